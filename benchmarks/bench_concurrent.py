"""Two `cvb run`s of one matrix at once on one store: how much work each does, and how long.

Work: the test fakes' matrix (``toy`` task of ``--images`` images x ``--questions`` questions,
the ``fake`` codec at 4 levels, the ``scripted`` VLM, ``mse``), each codec call and each answer
made slower by ``--encode-delay`` and ``--vlm-delay`` seconds so that the runs overlap as real
ones do. Prints, for one run alone and for two started together on one store and one cache:
the wall time until all are done, and each run's codec calls and questions answered (from the
fakes' event log). ``--baseline DIR`` (an earlier checkout, e.g. ``git worktree add /tmp/base
a41db26``, the main before claims) measures the same with that cvb, rounds interleaved; the fakes
are always this checkout's (they log what each run asked).

    .venv/bin/python benchmarks/bench_concurrent.py [--baseline DIR] [--repeat 2] [--images 30]
        [--questions 2] [--encode-delay 0.02] [--vlm-delay 0.02] [-j 1]
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
LEVELS = "1,2,4,6"


def start(checkout: Path, args: list[str], log: Path, delays: tuple[float, float]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout / "core"), str(checkout / "plugins"), str(FAKES)]),
           "CVB_FAKES_LOG": str(log), "CVB_FAKES_ENCODE_DELAY": str(delays[0]), "CVB_FAKES_DELAY": str(delays[1]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "cvb_fakes.cli", *args], env=env, cwd=checkout,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def calls(log: Path) -> tuple[int, int]:
    lines = log.read_text().splitlines() if log.exists() else []
    return sum(ln.startswith("encode ") for ln in lines), sum(ln.startswith("answer ") for ln in lines)


def measure(checkout: Path, images: Path, tmp: Path, runs: int, args) -> tuple[float, list[tuple[int, int]]]:
    """Wall seconds of ``runs`` runs started together on one fresh store, and each one's calls."""
    work = Path(tempfile.mkdtemp(dir=tmp))
    argv = ["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", LEVELS,
            "--metric", "mse", "--store", str(work / "r.sqlite"), "--cache-dir", str(work / "cache"),
            "-o", f"task.questions={args.questions}", "-b", "2", "-j", str(args.jobs), "-q"]
    logs = [work / f"{i}.log" for i in range(runs)]
    began = time.perf_counter()
    procs = [start(checkout, argv, log, (args.encode_delay, args.vlm_delay)) for log in logs]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"cvb run with {checkout} exited {p.returncode}:\n{err[-3000:]}")
    return time.perf_counter() - began, [calls(log) for log in logs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, help="an earlier cvb checkout, measured the same way")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--images", type=int, default=30)
    ap.add_argument("--questions", type=int, default=2)
    ap.add_argument("--encode-delay", type=float, default=0.02)
    ap.add_argument("--vlm-delay", type=float, default=0.02)
    ap.add_argument("-j", "--jobs", type=int, default=1)
    args = ap.parse_args()
    sys.path.insert(0, str(FAKES))
    from cvb_fakes import make_images

    checkouts = ([("baseline", args.baseline.resolve())] if args.baseline else []) + [("this", ROOT)]
    tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-concurrent-"))
    units, answers = args.images * 4, args.images * args.questions * 5
    try:
        images = make_images(tmp / "imgs", args.images)
        seen: dict[tuple[str, int], list] = {}
        for _ in range(args.repeat):
            for name, checkout in checkouts:
                for runs in (1, 2):
                    seen.setdefault((name, runs), []).append(measure(checkout, images, tmp, runs, args))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"matrix: {units} compressed images, {answers} answers; delays {args.encode_delay} s per codec call, "
          f"{args.vlm_delay} s per batch of 2; -j {args.jobs}; medians of {args.repeat}")
    print(f"{'cvb':<9} {'runs':>4} {'wall s':>7}  codec calls / answers per run (all rounds)")
    for (name, runs), rounds in seen.items():
        wall = statistics.median(w for w, _ in rounds)
        per_run = "; ".join(" + ".join(f"{c}/{a}" for c, a in each) for _, each in rounds)
        print(f"{name:<9} {runs:>4} {wall:>7.2f}  {per_run}")


if __name__ == "__main__":
    main()
