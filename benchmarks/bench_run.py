"""What `cvb run` itself costs, with the codec and the model taken out.

Work: the test fakes (``tests/plugins/cvb-fakes``): the toy task over N 64x64 images with Q
yes/no questions each (so N*Q samples; POPE asks 18 per image), the counting fake codec at two
levels plus the uncompressed reference (3 cells), the scripted VLM (batch 16), no image metric.
Each measurement runs in a fresh process, so peak RSS is its own. Prints, per size:

  first     wall time of the first run (in-process CLI call, imports excluded)
  codec     encode+decode time summed from the store (the codec's own work)
  vlm       time inside VLM.answer(), summed from the store (the model's own work)
  overhead  first - codec - vlm, per prediction and per sample (target < 1 ms per sample); the
            wall figure goes below zero when compression and inference overlap (they do: the
            run is pipelined), so the CPU figure (each thread's own CPU time) is the one to read
  rerun     wall time of the same command again, and its share of the first (target < 5%)
  calls     codec calls vs distinct images x levels (must be equal)
  rss       peak resident memory of the first run (target: flat from 10k to 100k samples, and
            flat in the number of distinct images: ``--questions 1`` makes every sample its own image)

``--repeat N`` measures each size N times, baseline and this checkout interleaved, and ends with
the medians. ``--trace K`` runs tracemalloc in the first run and prints (to stderr) the K source
lines holding the most memory when scoring starts, when all of the run's state is alive (slow:
for finding what grows, not for the figures). ``--profile K`` prints the K functions with the
most own CPU time in each first run's main thread (cProfile: for finding where CPU goes; the
profiler's own cost inflates the figures).

The toy task scores through a streamed scorer (``-o task.streamed=true``, as the built-in tasks
do) where the fakes offer one; ``--simple-task`` runs it as a third-party task is written
simply: ``samples()`` returns a list, and only ``score()`` (no ``scorer()``). ``--baseline DIR``
runs an earlier checkout of cvb (its ``core``,
``plugins`` and fakes, e.g. ``git worktree add /tmp/base main``) on the same work before each
size, in the same session, so the two rows compare.

    .venv/bin/python benchmarks/bench_run.py [--sizes 10000,100000] [--questions 20] [--baseline DIR]
    .venv/bin/python benchmarks/bench_run.py --questions 1 --image-size 16 --sizes 10000,100000 \
        --repeat 3 --baseline DIR
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAKES = ROOT / "tests" / "plugins" / "cvb-fakes"
LEVELS = ("1", "4")


def child(args: argparse.Namespace) -> None:
    """One `cvb run` in this process; prints its figures as JSON."""
    sys.path.insert(0, args.fakes)
    import inspect

    import cvb.plugins
    from cvb.cli.main import cli
    from cvb_fakes import CALLS, build_registry

    from cvb_fakes.components import ToyTask

    cvb.plugins._REGISTRY = build_registry()
    spent = _instrument()
    if args.trace:
        _trace_at_scoring(args.trace)
    streamed = (["-o", "task.streamed=true"] if "streamed" in inspect.signature(ToyTask).parameters
                and not args.simple_task else [])
    argv = ["run", "--task", f"toy:{args.images}", "--vlm", "scripted", "--codec", "fake",
            "--levels", ",".join(LEVELS), "--metric", "none", "-o", f"task.questions={args.questions}",
            *streamed, "-b", "16", "--store", args.store, "--cache-dir", args.cache, "-q", "--json"]
    devnull = open(os.devnull, "w")
    stdout, sys.stdout = sys.stdout, devnull
    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile(time.thread_time)  # the main thread: inference, store, scoring
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        if profile is not None:
            profile.enable()
        cli.main(argv, standalone_mode=False)
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        if profile is not None:
            profile.disable()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    if profile is not None:
        import pstats

        print(f"cProfile of the first run's main thread (CPU seconds), top {args.profile} by own time:",
              file=sys.stderr)
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(args.profile)
    sys.stdout = stdout
    conn = sqlite3.connect(args.store)
    codec_s = conn.execute("SELECT COALESCE(SUM(encode_s + decode_s), 0) FROM compressed "
                           "WHERE run_id = (SELECT MAX(id) FROM runs)").fetchone()[0]
    vlm_s, preds = conn.execute("SELECT COALESCE(SUM(latency_s), 0), COUNT(*) FROM predictions "
                                "WHERE run_id = (SELECT MAX(id) FROM runs)").fetchone()
    total_preds = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    print(json.dumps({"wall": wall, "cpu": cpu, "codec_cpu": spent["codec"], "vlm_cpu": spent["vlm"],
                      "codec_s": codec_s, "vlm_s": vlm_s, "new_predictions": preds,
                      "predictions": total_preds, "codec_calls": CALLS["encode"], "exit": code,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _instrument() -> dict[str, float]:
    """Count the CPU time spent inside the fake codec and the scripted VLM (the machine is
    shared, so CPU time is the steadier measure of what cvb itself adds)."""
    from cvb_fakes.components import CountingCodec, TextureVLM

    spent = {"codec": 0.0, "vlm": 0.0}

    def timed(cls, name, bucket):
        inner = getattr(cls, name)

        def wrapper(*a, **kw):
            c = time.thread_time()  # compression runs on its own thread beside inference
            try:
                return inner(*a, **kw)
            finally:
                spent[bucket] += time.thread_time() - c
        setattr(cls, name, wrapper)

    timed(CountingCodec, "encode", "codec")
    timed(CountingCodec, "decode", "codec")
    timed(TextureVLM, "answer", "vlm")
    return spent


def _trace_at_scoring(top: int) -> None:
    """Print the ``top`` source lines holding the most memory when the scoring stage starts."""
    import tracemalloc

    from cvb.run.runner import Runner

    tracemalloc.start(1)
    inner = Runner._score_stage

    def traced(self, *a, **kw):
        snap = tracemalloc.take_snapshot()
        current, peak = tracemalloc.get_traced_memory()
        print(f"tracemalloc at scoring: {current / 2**20:.1f} MB held, peak {peak / 2**20:.1f} MB", file=sys.stderr)
        for stat in snap.statistics("lineno")[:top]:
            frame = stat.traceback[0]
            print(f"  {stat.size / 2**20:8.2f} MB {stat.count:>9} blocks  {frame.filename}:{frame.lineno}",
                  file=sys.stderr)
        return inner(self, *a, **kw)

    Runner._score_stage = traced


def run_child(images: Path, questions: int, store: Path, cache: Path, checkout: Path = ROOT,
              trace: int = 0, simple: bool = False, profile: int = 0) -> dict:
    """One run in a fresh process, on ``checkout``'s cvb (this one, or a baseline)."""
    env = dict(os.environ)
    if checkout != ROOT:
        env["PYTHONPATH"] = os.pathsep.join([str(checkout / "core"), str(checkout / "plugins")])
    out = subprocess.run([sys.executable, __file__, "--child", "--images", str(images), "--questions",
                          str(questions), "--store", str(store), "--cache", str(cache), "--fakes",
                          str(checkout / "tests" / "plugins" / "cvb-fakes"), "--trace", str(trace),
                          *(["--simple-task"] if simple else []), *(["--profile", str(profile)] if profile else [])],
                         capture_output=True, text=True, check=True, env=env)
    if trace or profile:
        print(out.stderr, end="", flush=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="samples per run, comma-separated")
    parser.add_argument("--questions", type=int, default=20, help="questions per image")
    parser.add_argument("--image-size", type=int, default=64, help="side of the square test images, pixels")
    parser.add_argument("--baseline", type=Path, help="an earlier cvb checkout to run first at each size")
    parser.add_argument("--repeat", type=int, default=1, help="measurements per size and checkout (interleaved)")
    parser.add_argument("--trace", type=int, default=0, metavar="K",
                        help="print the K lines holding most memory when scoring starts (tracemalloc)")
    parser.add_argument("--simple-task", action="store_true",
                        help="the toy task written the simple way: samples() returns a list, only score()")
    parser.add_argument("--profile", type=int, default=0, metavar="K",
                        help="print the K functions with the most own CPU time of each first run's main thread "
                             "(cProfile; inference, store writes and scoring run there)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fakes", default=str(FAKES), help=argparse.SUPPRESS)
    parser.add_argument("--images", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sys.path.insert(0, str(FAKES))
    from cvb_fakes import make_images

    print(f"cvb run overhead: toy task, fake codec levels {','.join(LEVELS)} + none, scripted VLM, "
          f"{args.questions} questions per {args.image_size}x{args.image_size} image")
    print("wall = elapsed seconds; cpu = this process's CPU seconds (steadier on a shared machine)")
    print(f"{'run':>8} {'samples':>8} {'preds':>7} {'first':>13} {'codec':>11} {'vlm':>11} {'overhead/sample':>17} "
          f"{'ovh/pred cpu':>12} {'rerun':>11} {'rerun %':>13} {'calls':>6} {'imgs*lv':>7} {'rss MB':>7}")
    checkouts = ([("baseline", args.baseline.resolve())] if args.baseline else []) + [("this", ROOT)]
    medians = []
    for n in [int(x) for x in args.sizes.split(",")]:
        tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-images-"))
        try:  # the same images for every measurement of this size
            images = make_images(tmp / "imgs", n // args.questions, size=args.image_size)
            seen: dict[str, list[dict]] = {}
            for _ in range(args.repeat):
                for name, checkout in checkouts:
                    seen.setdefault(name, []).append(
                        measure(name, checkout, n, args.questions, images, args.trace, args.simple_task,
                                args.profile))
            medians += [(name, n, rows) for name, rows in seen.items()]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.repeat > 1:
        print(f"medians of {args.repeat}: peak RSS, and cvb's own CPU (first run) per sample")
        for name, n, rows in medians:
            print(f"{name:>8} {n:>8} samples {n // args.questions:>8} images  "
                  f"{statistics.median(r['rss_mb'] for r in rows):7.0f} MB  "
                  f"{statistics.median(r['ovh_cpu_ms'] for r in rows):6.3f} ms/sample")


def measure(name: str, checkout: Path, n: int, questions: int, images: Path, trace: int = 0,
            simple: bool = False, profile: int = 0) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-run-"))
    try:
        n_images = n // questions
        store, cache = tmp / "r.sqlite", tmp / "cache"
        first = run_child(images, questions, store, cache, checkout, trace, simple, profile)
        rerun = run_child(images, questions, store, cache, checkout, simple=simple)
        samples = n_images * questions
        assert first["exit"] == 0 and rerun["exit"] == 0, (first, rerun)
        assert first["predictions"] == rerun["predictions"] == samples * (1 + len(LEVELS))
        ovh_wall = first["wall"] - first["codec_s"] - first["vlm_s"]
        ovh_cpu = first["cpu"] - first["codec_cpu"] - first["vlm_cpu"]
        preds = first["new_predictions"]
        print(f"{name:>8} {samples:>8} {preds:>7} {first['wall']:>5.1f}w/{first['cpu']:>5.1f}c "
              f"{first['codec_s']:>4.1f}w/{first['codec_cpu']:>4.1f}c "
              f"{first['vlm_s']:>4.1f}w/{first['vlm_cpu']:>4.1f}c "
              f"{ovh_wall / samples * 1e3:>6.3f}w/{ovh_cpu / samples * 1e3:>5.3f}c ms "
              f"{ovh_cpu / preds * 1e3:>9.3f}ms {rerun['wall']:>4.2f}w/{rerun['cpu']:>4.2f}c "
              f"{100 * rerun['wall'] / first['wall']:>5.1f}w/{100 * rerun['cpu'] / first['cpu']:>4.1f}c "
              f"{first['codec_calls']:>6} {n_images * len(LEVELS):>7} {first['rss_mb']:>7.0f}", flush=True)
        assert rerun["codec_calls"] == 0 and rerun["new_predictions"] == 0
        return {"rss_mb": first["rss_mb"], "ovh_cpu_ms": ovh_cpu / samples * 1e3}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
