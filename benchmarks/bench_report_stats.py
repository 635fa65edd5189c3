"""What `cvb report`'s intervals and tests cost: resampling a POPE-sized task.

Work: the test fakes' toy task over N images with Q yes/no questions each (POPE: 500 x 18 =
9000), the fake codec at two levels plus the uncompressed reference (3 cells), stored by a real
`cvb run`. Then `cvb report --json --resamples R` in this process, timed three ways:

  off        --resamples 0: the report without resampling (the baseline)
  accuracy   the accuracy shortcut (numpy over 0/1 verdicts, checked against the task's score)
  rescoring  the shortcut switched off: every resample rescored by the task's own `score`,
             as for F1, MME, CIDEr (the toy task's rule costs about what POPE's does per sample)

Prints seconds per cell for each and the ratio to the baseline.

    .venv/bin/python benchmarks/bench_report_stats.py [--images 500] [--questions 18] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "plugins" / "cvb-fakes"))


def cli(argv: list[str]) -> str:
    from cvb.cli.main import cli as group

    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        try:
            group.main(argv, standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--questions", type=int, default=18)
    ap.add_argument("--resamples", type=int, default=1000)
    args = ap.parse_args()

    import cvb.plugins
    from cvb.report import uncertainty
    from cvb_fakes import build_registry, make_images

    cvb.plugins._REGISTRY = build_registry()
    tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-report-"))
    images = make_images(tmp / "imgs", args.images)
    store = str(tmp / "r.sqlite")
    cli(["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", "1,4",
         "--metric", "none", "-o", f"task.questions={args.questions}", "--store", store,
         "--cache-dir", str(tmp / "cache"), "-q", "--json"])
    cells = 3
    report = ["report", "--store", store, "--json", "-q"]

    def timed(*extra: str) -> float:
        t0 = time.perf_counter()
        cli([*report, *extra])
        return time.perf_counter() - t0

    timed("--resamples", "0")  # warm-up: imports and the first open of the store
    base = timed("--resamples", "0")
    fast = timed("--resamples", str(args.resamples))
    scales = uncertainty.ACCURACY_SCALES
    uncertainty.ACCURACY_SCALES = ()  # every resample through the task's own score
    try:
        slow = timed("--resamples", str(args.resamples))
    finally:
        uncertainty.ACCURACY_SCALES = scales
    n = args.images * args.questions
    print(f"{n} samples ({args.images} images x {args.questions}), {cells} cells, "
          f"{args.resamples} resamples")
    print(f"{'':10} {'seconds':>9} {'per cell':>9} {'vs off':>8}")
    for name, t in (("off", base), ("accuracy", fast), ("rescoring", slow)):
        print(f"{name:10} {t:9.2f} {t / cells:9.2f} {t / base:7.1f}x")


if __name__ == "__main__":
    main()
