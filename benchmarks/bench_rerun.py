"""What a rerun of a finished matrix costs: a `cvb run` that finds every answer stored.

Work: ``cvb run -t sample -c jpeg,webp,avif`` with the default metrics and the test fakes'
VLM (``scripted``), run once to fill a store, then again: the rerun compresses nothing, asks
nothing and prints the cells. Each rerun is a fresh process (imports included, as a user runs
it); prints its CPU seconds, peak RSS, the modules it loaded, and whether numpy, scipy and
torch were among them. ``--baseline DIR`` (an earlier checkout, e.g. ``git worktree add
/tmp/base b2bb054``) reruns the same matrix with that cvb, rounds interleaved, medians.

    .venv/bin/python benchmarks/bench_rerun.py [--baseline DIR] [--repeat 3] [--codecs jpeg,webp,avif]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1] + "/tests/plugins/cvb-fakes")
import cvb.plugins
from cvb.cli.main import cli
from cvb_fakes import plugin as fakes

reg = cvb.plugins.get_registry()
reg.add_plugin(fakes, cvb.plugins.PluginInfo("fakes", "cvb-fakes", "0.1.0", "cvb_fakes.plugin"))
out, sys.stdout = sys.stdout, open("/dev/null", "w")
try:
    cli.main(sys.argv[2:], standalone_mode=False)
except SystemExit as exc:
    assert not exc.code, exc.code
sys.stdout = out
print(json.dumps({"cpu": time.process_time(), "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "modules": len(sys.modules), **{m: m in sys.modules for m in ("numpy", "scipy", "torch")}}))
"""


def rerun(checkout: Path, args: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout / "core"), str(checkout / "plugins")])}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules load from their bytecode, not compiled each time
    out = subprocess.run([sys.executable, "-c", CHILD, str(checkout), *args], env=env, cwd=checkout,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"cvb {' '.join(args)} with {checkout} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, help="an earlier cvb checkout, rerun the same way")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--codecs", default="jpeg,webp,avif")
    ap.add_argument("--limit", type=int, help="only the first N samples of the task")
    args = ap.parse_args()
    checkouts = ([("baseline", args.baseline.resolve())] if args.baseline else []) + [("this", ROOT)]
    tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-rerun-"))
    try:
        def matrix(name: str) -> list[str]:
            return ["run", "-t", "sample", "-c", args.codecs, "--vlm", "scripted", "-q", "--store",
                    str(tmp / f"{name}.sqlite"), "--cache-dir", str(tmp / f"{name}-cache"),
                    *(["--limit", str(args.limit)] if args.limit else [])]

        for name, checkout in checkouts:
            rerun(checkout, matrix(name))  # the first run: fills the store
        seen: dict[str, list[dict]] = {name: [] for name, _ in checkouts}
        for _ in range(args.repeat):
            for name, checkout in checkouts:
                seen[name].append(rerun(checkout, matrix(name)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"rerun of a finished matrix: cvb run -t sample -c {args.codecs} --vlm scripted, default metrics; "
          f"fresh process each, medians of {args.repeat}; load average {os.getloadavg()[0]:.1f}")
    med = {}
    for name, rows in seen.items():
        med[name] = {k: statistics.median(r[k] for r in rows) for k in ("cpu", "rss_mb", "modules")}
        heavy = ",".join(m for m in ("numpy", "scipy", "torch") if rows[-1][m]) or "none"
        print(f"  {name:8s} CPU {med[name]['cpu']:5.2f} s   peak RSS {med[name]['rss_mb']:5.0f} MB   "
              f"{med[name]['modules']:5.0f} modules   heavy imports: {heavy}")
    if "baseline" in med:
        b, t = med["baseline"], med["this"]
        print(f"  this / baseline: CPU {t['cpu'] / b['cpu']:.2f}x, RSS {t['rss_mb'] / b['rss_mb']:.2f}x, "
              f"modules {t['modules'] / b['modules']:.2f}x")


if __name__ == "__main__":
    main()
