"""The results store at the paper's scale: do planning, resume and reports stay interactive?

The paper's matrix is 7 tasks x 9 VLMs x (11 codecs x 4 levels + the reference) = 2835 cells;
at a few thousand questions per task that is tens of millions of predictions. This fills a
store with that many synthetic predictions and cells (written through ``Store.save_predictions``
and ``Store.save_cell``, the runner's own write path), plus one real small matrix (the test
fakes' toy task, 1000 samples x 3 cells, made by a real ``cvb run``). Then it times, on that
store and (baseline, same session) on a store holding only the small matrix:

  resume    `cvb run` of the small matrix again: planning, the stored-answer checks, the cell
            fingerprints (it must only read)
  export    `cvb export --what cells`
  report    `cvb report` (tables, BD-metrics, plots, HTML) of the small matrix's task and VLM
  report*   `cvb report` of the whole store (2835 cells; terminal tables), statistics afresh
  report*2  the same report again: its statistics reused from the report cache
  report*o  `cvb report --out DIR` of the whole store: tables, 70 plots in 3 formats, HTML
            (statistics from the cache)
  report*-  report* on the same store without the report's indexes (`Store.report_indexes`), as
            a store made by an earlier cvb reads until a newer `cvb run` opens it

With `--baseline DIR` (a checkout of an earlier cvb, e.g. `git worktree add /tmp/base main`)
the whole-store reports also run with that cvb on the same store, one after the other
(`--repeat N`: N rounds of the afresh report, medians), and both store answers into a fresh
store (`writes`: answers per second through `Store.save_predictions`; the report's indexes
cost this cvb's writes a little).

Each is a fresh process. Prints seconds and the ratio big / small.

The synthetic tasks cannot be rebuilt by a report (it tests their cells with the verdicts the
run stored); with `--pope` each task is instead a local POPE-layout copy read by the real
`pope:` task (`pope_store.py`), so the report rebuilds it and resamples every cell's F1 (1000
resamples; the count hook) with BD-metric intervals, as for a real study.

    .venv/bin/python benchmarks/bench_store.py [--tasks 7 --vlms 9 --codecs 11 --levels 4
                                                --samples 3000] [--pope]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
FAKES = HERE.parent / "tests" / "plugins" / "cvb-fakes"


def cvb(args: list[str], source: Path | None = None, cache: Path | None = None) -> float:
    """Seconds of one fresh `cvb` process; ``source``: the checkout of another cvb to run instead;
    ``cache``: its report statistics cache (default: the run's shared one)."""
    code = [str(source / "core"), str(source / "plugins")] if source else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [*code, str(FAKES), os.environ.get("PYTHONPATH")]))}
    if cache is not None:
        env["CVB_REPORT_CACHE"] = str(cache)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, str(HERE / "bench_jobs.py"), "--child", *args], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:  # a failure in the measured command is a failed benchmark
        raise SystemExit(f"cvb {' '.join(args[:3])} ... failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return time.perf_counter() - t0


def fill(store_path: Path, tasks: int, vlms: int, codecs: int, levels: int, samples: int) -> tuple[int, float]:
    """Synthetic predictions and scored cells of the whole matrix; (rows, seconds)."""
    from cvb.run.store import Store

    cells = [("none", "-")] + [(f"codec{c}", str(lv)) for c in range(codecs) for lv in range(1, levels + 1)]
    t0 = time.perf_counter()
    n = 0
    with Store(store_path) as store:
        run_id = store.begin_run({"cvb_version": "bench", "argv": ["bench_store"], "options": {}, "plugins": [],
                                  "prompts": {}})
        for t in range(tasks):
            task = f"task{t}"
            for v in range(vlms):
                vlm = f"hf:org/model-{v}"
                for codec, level in cells:
                    rows = [(task, "1", f"s{i:06d}", vlm, "v1", codec, level, f"{t}-{codec}-{level}-{i % 500}",
                             "0123456789abcdef", "yes" if i % 3 else "no", None, float(i % 2), None, 0.01)
                            for i in range(samples)]
                    store.save_predictions(rows, run_id)
                    n += len(rows)
                    store.save_cell({"task": task, "vlm": vlm, "codec": codec, "level": level, "task_version": "1",
                                     "codec_kind": "traditional",
                                     "rate_rank": None if codec == "none" else float(level),
                                     "n": samples, "n_failed": 0, "score": 50.0 + (hash((t, v, codec, level)) % 40),
                                     "score_metric": "acc", "higher_is_better": True, "details": {},
                                     "bpp": 24.0 if codec == "none" else 0.1 * int(level), "metrics": {}},
                                    "x", run_id)
        store.finish_run(run_id, "ok")
    return n, time.perf_counter() - t0


WRITE_SNIPPET = """
import sys, time
sys.path.insert(0, sys.argv[1])
import bench_store
n, secs = bench_store.fill(__import__("pathlib").Path(sys.argv[2]), 1, 3, 11, 4, 2000)
print(n / secs)
"""


def write_rate(store: Path, source: Path | None = None) -> float:
    """Answers per second stored through ``Store.save_predictions`` into a fresh store (270,000
    answers: 3 VLMs x 45 cells x 2000), by this cvb or the checkout ``source``."""
    code = [str(source / "core"), str(source / "plugins")] if source else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [*code, os.environ.get("PYTHONPATH")]))}
    for suffix in ("", "-wal", "-shm"):
        Path(str(store) + suffix).unlink(missing_ok=True)
    out = subprocess.run([sys.executable, "-c", WRITE_SNIPPET, str(HERE), str(store)], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=7)
    ap.add_argument("--vlms", type=int, default=9)
    ap.add_argument("--codecs", type=int, default=11)
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--samples", type=int, default=3000, help="questions per task")
    ap.add_argument("--pope", action="store_true", help="tasks the report can rebuild and resample (POPE copies)")
    ap.add_argument("--baseline", type=Path, default=None, help="checkout of an earlier cvb to time the "
                    "whole-store reports with too (same store)")
    ap.add_argument("--no-plots-baseline", action="store_true", help="with --baseline: skip its report*o")
    ap.add_argument("--repeat", type=int, default=1, help="with --baseline: rounds of the afresh whole-store "
                    "report and of the write rate, baseline and this cvb one after the other (medians)")
    args = ap.parse_args()
    sys.path.insert(0, str(FAKES))
    from cvb_fakes import make_images

    tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-store-"))
    try:
        images = make_images(tmp / "imgs", 50, size=32)
        small, big = tmp / "small.sqlite", tmp / "big.sqlite"
        os.environ["CVB_REPORT_CACHE"] = str(tmp / "report-cache.sqlite")  # the children's: starts empty
        t0 = time.perf_counter()
        if args.pope:
            import pope_store

            copies = [pope_store.pope_copy(tmp / f"pope{t}", args.samples // 6, 6) for t in range(args.tasks)]
            rows = pope_store.fill(big, copies, args.vlms, args.codecs, args.levels)
        else:
            rows = fill(big, args.tasks, args.vlms, args.codecs, args.levels, args.samples)[0]
        secs = time.perf_counter() - t0
        size = big.stat().st_size / 2**30
        print(f"filled: {rows:,} predictions, {args.tasks * args.vlms * (1 + args.codecs * args.levels):,} cells "
              f"in {secs:.0f} s ({rows / secs:,.0f} rows/s), {size:.1f} GiB")
        run = ["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", "1,4",
               "--metric", "none", "-o", "task.questions=20", "--cache-dir", str(tmp / "cache"), "-q"]
        for store in (small, big):
            cvb([*run, "--store", str(store)])  # the real small matrix, in both stores
        times: dict[str, dict[str, float]] = {}
        for name, store in (("small", small), ("big", big)):
            t = times[name] = {}
            t["resume"] = cvb([*run, "--store", str(store)])
            t["export"] = cvb(["export", "--store", str(store), "--what", "cells", "--output", str(tmp / "c.csv")])
            t["report"] = cvb(["report", "--store", str(store), "--task", f"toy:{images}[questions=20]",
                               "--out", str(tmp / f"rep-{name}")])
            if name == "big":
                whole = ["report", "--store", str(store)]
                t["report*"] = cvb(whole)
                t["report*2"] = cvb(whole)
                t["report*o"] = cvb([*whole, "--out", str(tmp / "rep-all")])
                if args.baseline:
                    base = times["baseline"] = {}
                    fresh: dict[str, list[float]] = {"baseline": [], "this": []}
                    for r in range(args.repeat):  # afresh: a new statistics cache for every report
                        fresh["baseline"].append(cvb(whole, args.baseline, tmp / f"cache-b{r}.sqlite"))
                        fresh["this"].append(cvb(whole, None, tmp / f"cache-t{r}.sqlite"))
                    base["report*"] = statistics.median(fresh["baseline"])
                    t["report*"] = statistics.median(fresh["this"])
                    if not args.no_plots_baseline:  # statistics from their caches, one after the other
                        outs: dict[str, list[float]] = {"baseline": [], "this": []}
                        for r in range(args.repeat):
                            outs["baseline"].append(cvb([*whole, "--out", str(tmp / "rep-base")], args.baseline,
                                                        tmp / "cache-b0.sqlite"))
                            outs["this"].append(cvb([*whole, "--out", str(tmp / "rep-all")], None,
                                                    tmp / "cache-t0.sqlite"))
                        base["report*o"] = statistics.median(outs["baseline"])
                        t["report*o"] = statistics.median(outs["this"])
                    writes: dict[str, list[float]] = {"baseline": [], "this": []}
                    for r in range(args.repeat):
                        writes["baseline"].append(write_rate(tmp / "w.sqlite", args.baseline))
                        writes["this"].append(write_rate(tmp / "w.sqlite"))
                    times["writes"] = {k: statistics.median(v) for k, v in writes.items()}
                # a store no newer `cvb run` has opened yet: without the report's indexes
                from cvb.run.store import report_indexes

                conn = sqlite3.connect(store)
                for name in report_indexes():
                    conn.execute(f"DROP INDEX IF EXISTS {name}")
                conn.commit()
                conn.close()
                t["report*-"] = statistics.median([cvb(whole, None, tmp / f"cache-n{r}.sqlite")
                                                   for r in range(args.repeat)])
        print(f"{'':8s} {'small store':>12s} {'big store':>10s} {'big/small':>9s}   (seconds, each a fresh process)")
        for what in ("resume", "export", "report", "report*", "report*2", "report*o", "report*-"):
            s, b = times["small"].get(what), times["big"][what]
            print(f"{what:8s} {s if s is not None else float('nan'):12.2f} {b:10.2f} "
                  f"{(b / s) if s else float('nan'):9.2f}")
        for what, b in times.get("baseline", {}).items():
            print(f"{what:8s} baseline cvb {b:.2f} s, this cvb {times['big'][what]:.2f} s: "
                  f"{b / times['big'][what]:.1f}x faster (medians of {args.repeat})")
        if "writes" in times:
            w = times["writes"]
            print(f"writes   baseline cvb {w['baseline']:,.0f} answers/s, this cvb {w['this']:,.0f} answers/s "
                  f"(Store.save_predictions, medians of {args.repeat}): "
                  f"{1e6 / w['this'] - 1e6 / w['baseline']:+.1f} us "
                  f"per answer")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
