"""Does ``-j`` speed cvb up, with the default image metrics (PSNR, MS-SSIM: torch)?

Each measurement is the real command in a fresh process, as a user runs it, with a fresh
results store and image cache; ``-j 1`` and ``-j 2`` alternate (``--repeat`` rounds), so both
see the same machine load. Prints the median wall time of each and the ratio the issue targets
(``-j 2`` at least 1.7x faster than ``-j 1`` on two cores):

  run       cvb run -t sample -c jpeg,webp,avif --vlm scripted (the test fakes' VLM, which
            answers from pixel statistics in microseconds: what is measured is compression,
            metrics and cvb itself)
  compress  cvb compress -c jpeg,webp,avif (the sample photos, default metrics)

    .venv/bin/python benchmarks/bench_jobs.py [--repeat 3] [--what run,compress]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAKES = ROOT / "tests" / "plugins" / "cvb-fakes"
CODECS = "jpeg,webp,avif"


def child(argv: list[str]) -> None:
    """The real `cvb` command line with the installed plugins plus the test fakes."""
    sys.path.insert(0, str(FAKES))
    import cvb.plugins
    from cvb.cli import main as cvb_main
    from cvb_fakes import plugin as fakes

    reg = cvb.plugins.get_registry()
    reg.add_plugin(fakes, cvb.plugins.PluginInfo("fakes", "cvb-fakes", "0.1.0", "cvb_fakes.plugin"))
    sys.argv = ["cvb", *argv]
    cvb_main()


def command(what: str, jobs: int, tmp: Path) -> list[str]:
    if what == "run":
        return ["run", "-t", "sample", "-c", CODECS, "--vlm", "scripted", "-j", str(jobs), "-q",
                "--store", str(tmp / "r.sqlite"), "--cache-dir", str(tmp / "cache")]
    return ["compress", "-c", CODECS, "-j", str(jobs), "-q"]


def timed(what: str, jobs: int) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-jobs-"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(FAKES), os.environ.get("PYTHONPATH")]))}
    env.pop("OMP_NUM_THREADS", None)  # measure cvb's own thread budget, not the caller's setting
    try:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--child", *command(what, jobs, tmp)], env=env,
                             capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            raise SystemExit(f"{what} -j {jobs} failed ({out.returncode}):\n{out.stderr[-3000:]}")
        return wall
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="rounds of -j 1 then -j 2")
    ap.add_argument("--what", default="run,compress", help="run, compress or both")
    args = ap.parse_args()
    from cvb.threads import available_cpus

    cpus = available_cpus()
    print(f"-j scaling with default metrics; cpus={cpus}, python {sys.version.split()[0]}, "
          f"median of {args.repeat} alternating rounds, wall seconds of the whole command")
    print(f"  load average before: {os.getloadavg()[0]:.1f}")
    for what in args.what.split(","):
        times: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.repeat):
            for jobs in (1, 2):
                times[jobs].append(timed(what, jobs))
        one, two = statistics.median(times[1]), statistics.median(times[2])
        print(f"  {what:8s} -j 1 {one:6.2f} s   -j 2 {two:6.2f} s   -j 1 / -j 2 = {one / two:.2f}x "
              f"(target >= 1.70)   rounds: {[round(t, 1) for t in times[1]]} vs {[round(t, 1) for t in times[2]]}")
    load = os.getloadavg()[0]
    print(f"  load average after: {load:.1f}")
    if load > cpus:
        print(f"  NOTE: other processes kept the {cpus} CPUs busy (load {load:.1f}): the kernel shares the CPUs "
              f"between sessions, so a second worker could not get a second core; measure on an idle machine "
              f"(or pinned to 2 idle cores: taskset -c 0,1 python benchmarks/bench_jobs.py)")


if __name__ == "__main__":
    main()
