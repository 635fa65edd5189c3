"""What `cvb report`'s intervals and tests cost: resampling a POPE-sized task scored by F1.

Work: a local copy of the POPE layout, N images x Q yes/no questions (POPE: 500 x 18 = 9000),
read by the real `pope:` task; synthetic answers for the uncompressed cell and one codec at
`--levels` levels, stored and scored with the task's own rule (`benchmarks/pope_store.py`). Then
`cvb report --json --resamples R` in this process, timed three ways:

  off        --resamples 0: the report without resampling (the baseline)
  counts     POPE's `Tally` scorer (`cvb.scoring.tally`): every resample's F1 from its resampled
             record counts (one matrix product per cell, then the tally's finish per resample)
  rescoring  that switched off: every resample rescored by the task's own `score`, as for a
             task without a tally (what every F1 cost before)

Prints seconds per cell for each, the ratio to the baseline, and whether the two resampled
reports agree (they must: the same draws, the same F1).

    .venv/bin/python benchmarks/bench_report_stats.py [--images 500] [--questions 18] [--resamples 1000]
                                                      [--protocol cvb|lmms-eval]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


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
    ap.add_argument("--levels", type=int, default=4, help="levels of the one codec (cells: 1 + levels)")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--protocol", default="cvb", choices=("cvb", "lmms-eval", "vlmevalkit"))
    args = ap.parse_args()

    import pope_store
    from cvb.report import uncertainty

    os.environ["CVB_REPORT_CACHE"] = "off"  # every report computes its statistics
    tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-report-"))
    try:
        data = pope_store.pope_copy(tmp / "POPE", args.images, args.questions)
        store = str(tmp / "r.sqlite")
        options = {} if args.protocol == "cvb" else {"protocol": args.protocol}
        pope_store.fill(Path(store), [data], 1, 1, args.levels, options)
        cells = 1 + args.levels
        report = ["report", "--store", store, "--json", "-q"]

        def timed(*extra: str) -> tuple[float, dict]:
            t0 = time.perf_counter()
            out = cli([*report, *extra])
            return time.perf_counter() - t0, json.loads(out)

        timed("--resamples", "0")  # warm-up: imports, the first open of the store, the dataset
        base, _ = timed("--resamples", "0")
        fast, with_hook = timed("--resamples", str(args.resamples))
        tally = uncertainty._tally_replicates
        uncertainty._tally_replicates = lambda *a, **k: None  # every resample through the task's own score
        try:
            slow, without = timed("--resamples", str(args.resamples))
        finally:
            uncertainty._tally_replicates = tally
        same = [(c["ci"], c.get("delta_ci"), c.get("p")) for c in with_hook["sections"][0]["cells"]] == \
               [(c["ci"], c.get("delta_ci"), c.get("p")) for c in without["sections"][0]["cells"]]
        n = args.images * args.questions
        print(f"POPE F1 ({args.protocol}): {n} questions ({args.images} images x {args.questions}), "
              f"{cells} cells, {args.resamples} resamples")
        print(f"{'':10} {'seconds':>9} {'per cell':>9} {'vs off':>8}")
        for name, t in (("off", base), ("counts", fast), ("rescoring", slow)):
            print(f"{name:10} {t:9.2f} {t / cells:9.2f} {t / base:7.1f}x")
        print(f"intervals and p-values identical with and without the tally: {'yes' if same else 'NO'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
