"""Is compression overlapped with inference?

``cvb run -t sample -c jpeg,webp,avif`` (default metrics) with the test fakes' VLM made to
sleep ``--vlm-delay`` seconds per batch: a model on a GPU, which leaves the CPU free while it
works. Each command runs in a fresh process; measured in one session:

  compress   a cold run whose VLM costs nothing: the compression and metrics alone
  infer      the same matrix on a new store with the cache already filled and no metrics
             (``-m none``): inference alone, its images read from the cache
  startup    a rerun of a finished matrix (start-up, planning, reading the store)
  pipelined  a cold run with the slow VLM: what a user gets

A strictly phased run costs ``compress + infer - startup``; a perfectly overlapped one
``max(compress, infer)``. Prints all of them and where the pipelined run lies between.

    .venv/bin/python benchmarks/bench_pipeline.py [--vlm-delay 0.05] [-j 1] [--codecs jpeg,webp,avif]
                                                  [--metrics psnr] [--limit N]

(``--limit``, ``--codecs`` and ``--metrics`` make it smaller: tests/test_benchmarks.py runs it so.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAKES = HERE.parent / "tests" / "plugins" / "cvb-fakes"


def cvb(args: list[str], delay: float) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(FAKES), os.environ.get("PYTHONPATH")])),
           "CVB_FAKES_DELAY": str(delay)}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, str(HERE / "bench_jobs.py"), "--child", *args], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"cvb {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vlm-delay", type=float, default=0.05, help="seconds the VLM sleeps per batch")
    ap.add_argument("-j", "--jobs", default="1")
    ap.add_argument("--codecs", default="jpeg,webp,avif")
    ap.add_argument("--metrics", default=None, help="image metrics (default: cvb run's)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N samples of the task")
    args = ap.parse_args()
    limit = ["--limit", str(args.limit)] if args.limit else []
    tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-pipe-"))

    def run(name: str, cache: str, delay: float, metrics: str | None = args.metrics) -> float:
        return cvb(["run", "-t", "sample", "-c", args.codecs, "--vlm", "scripted", "-j", args.jobs, "-q",
                    "--store", str(tmp / f"{name}.sqlite"), "--cache-dir", str(tmp / cache), *limit,
                    *(["-m", metrics] if metrics else [])], delay)

    try:
        compress = run("compress", "cache-a", 0.0)
        infer = run("infer", "cache-a", args.vlm_delay, "none")
        startup = run("infer", "cache-a", args.vlm_delay, "none")
        pipelined = run("pipelined", "cache-b", args.vlm_delay)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    phased = compress + infer - startup
    ideal = max(compress, infer)
    print(f"cvb run -t sample -c {args.codecs} -j {args.jobs}, {args.metrics or 'default'} metrics, "
          f"{f'{args.limit} samples, ' if args.limit else ''}VLM sleeping "
          f"{args.vlm_delay} s per batch; wall seconds")
    print(f"  compress alone {compress:6.2f}   infer alone {infer:6.2f}   startup {startup:6.2f}")
    print(f"  phased (compress + infer - startup) {phased:6.2f}   overlapped ideal {ideal:6.2f}   "
          f"pipelined {pipelined:6.2f}")
    print(f"  phased / pipelined = {phased / pipelined:.2f}x; pipelined / ideal = {pipelined / ideal:.2f}")


if __name__ == "__main__":
    main()
