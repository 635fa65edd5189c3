"""Does ``-j`` speed cvb up, with the default image metrics (PSNR, MS-SSIM: torch)?

Each measurement is the real command in a fresh process, as a user runs it, with a fresh
results store and image cache; the variants alternate (``--repeat`` rounds), so all see the
same machine load. Prints the median wall time of each and the ratio the issue targets
(``-j 2`` at least 1.7x faster than ``-j 1`` on two cores):

  run       cvb run -t sample -c jpeg,webp,avif --vlm scripted (the test fakes' VLM, which
            answers from pixel statistics: what is measured is compression, metrics and cvb)
  compress  cvb compress -c jpeg,webp,avif (the sample photos, default metrics)

Variants: ``-j 1`` (one process, which gives torch's MS-SSIM every CPU as threads), ``-j 2``,
``default`` (``--jobs default``: no ``-j``, as cvb picks it from the CPUs free) and ``-j 1``
with ``OMP_NUM_THREADS=1`` (one process on one thread: the single-core baseline).

Wall time on a shared machine says little (Linux shares the CPUs between sessions), so each
command's CPU time is measured too: the main process's own (``RUSAGE_SELF`` at its exit) and
its workers' (everything else in the process tree: this script makes itself the tree's
subreaper, so a fork server's children are counted), and the busiest thread's (sampled from
``/proc`` every 50 ms: the process's main thread for ``-j 1``, one worker for ``-j 2``). On idle
CPUs no command takes less than its busiest thread's CPU time, nor less than its CPU time
divided by the CPUs; the script prints that floor per variant and the ratio the floors give,
which is what an idle machine shows when the threads overlap well.

    .venv/bin/python benchmarks/bench_jobs.py [--repeat 3] [--what run,compress] [--jobs 2,4,default]
                                              [--codecs jpeg,webp,avif] [--metrics psnr] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
BUILTIN = ("cvb_pillow", "cvb_metrics", "cvb_local")  # the plugins these commands need
ONE_THREAD = "-j 1 1-thread"


def variants(jobs: list[str], one_thread: bool) -> dict[str, tuple[int | None, dict]]:
    """label -> (-j, extra environment): ``-j 1``, each ``-j N`` asked for (``default``: no
    ``-j``, cvb's own choice from the CPUs free), the one-thread baseline."""
    asked = [None if n == "default" else int(n) for n in jobs]
    out = {("default" if n is None else f"-j {n}"): (n, {}) for n in [1, *[n for n in asked if n != 1]]}
    if one_thread:
        out[ONE_THREAD] = (1, {"OMP_NUM_THREADS": "1"})
    return out
_SELF_CPU_ENV = "CVB_BENCH_SELF_CPU"  # where the child writes its own CPU seconds


def child(argv: list[str]) -> None:
    """The real `cvb` command line with the installed plugins plus the test fakes; writes this
    process's own CPU time at the end where ``CVB_BENCH_SELF_CPU`` names a file."""
    sys.path[:0] = [str(FAKES), str(Path(__file__).resolve().parent)]
    from source_tree import register_builtins

    import cvb.plugins
    from cvb.cli import main as cvb_main
    from cvb_fakes import plugin as fakes

    register_builtins(BUILTIN)  # on a machine where the tree was never pip-installed
    reg = cvb.plugins.get_registry()
    reg.add_plugin(fakes, cvb.plugins.PluginInfo("fakes", "cvb-fakes", "0.1.0", "cvb_fakes.plugin"))
    sys.argv = ["cvb", *argv]
    try:
        cvb_main()
    finally:
        if os.environ.get(_SELF_CPU_ENV):  # asked for by timed(); other benchmarks only run the command
            r = resource.getrusage(resource.RUSAGE_SELF)
            Path(os.environ[_SELF_CPU_ENV]).write_text(json.dumps(r.ru_utime + r.ru_stime))


#: (codecs, metrics or None for the commands' defaults, samples of the task or None for all):
#: what main() was asked for (smaller for a smoke test)
SIZE: tuple[str, str | None, int | None] = (CODECS, None, None)


def command(what: str, jobs: int | None, tmp: Path) -> list[str]:
    codecs, metrics, limit = SIZE
    extra = ["-m", metrics] if metrics else []
    j = [] if jobs is None else ["-j", str(jobs)]  # None: the default
    if what == "run":
        return ["run", "-t", "sample", "-c", codecs, "--vlm", "scripted", *j, "-q",
                "--store", str(tmp / "r.sqlite"), "--cache-dir", str(tmp / "cache"), *extra,
                *(["--limit", str(limit)] if limit else [])]
    return ["compress", "-c", codecs, *j, "-q", *extra]


def _subreaper() -> None:
    """Orphans of the measured command (a fork server outlives its parent briefly) become this
    process's children, so their CPU time is counted when they are reaped here."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _reap_all() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


class ThreadCPU:
    """Samples the CPU time of every thread in a process tree (Linux ``/proc``) until stopped:
    the busiest thread's CPU time is the least wall time the command could take on idle CPUs."""

    def __init__(self, pid: int, every: float = 0.05):
        import threading

        self.pid, self.every = pid, every
        self.cpu: dict[tuple[int, int], float] = {}  # (pid, tid) -> CPU seconds, last seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")
        self._thread.start()

    def _tree(self) -> list[int]:
        pids, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    todo += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
            except OSError:
                continue
        return pids

    def _loop(self) -> None:
        while not self._stop.is_set():
            for pid in self._tree():
                try:
                    tids = os.listdir(f"/proc/{pid}/task")
                except OSError:
                    continue
                for tid in tids:
                    try:
                        fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.cpu[(pid, int(tid))] = (int(fields[11]) + int(fields[12])) / self._tick
            self._stop.wait(self.every)

    def busiest(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.cpu.values(), default=0.0)


def timed(what: str, jobs: int | None, extra: dict) -> tuple[float, float, float, float]:
    """(wall, main process CPU, worker CPU, busiest thread's CPU) seconds of one fresh command."""
    tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-jobs-"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(FAKES), os.environ.get("PYTHONPATH")])),
           _SELF_CPU_ENV: str(tmp / "self-cpu.json")}
    env.pop("OMP_NUM_THREADS", None)  # measure cvb's own thread budget, not the caller's setting
    env.pop("CVB_JOBS", None)  # and its own default -j
    env.update(extra)
    try:
        _reap_all()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--child", *command(what, jobs, tmp)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threads = ThreadCPU(proc.pid)
        _, stderr = proc.communicate()
        wall = time.perf_counter() - t0
        busiest = threads.busiest()
        _reap_all()  # the tree's orphans, then their CPU is in RUSAGE_CHILDREN
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"{what} -j {jobs} {extra} failed ({proc.returncode}):\n{stderr[-3000:]}")
        tree = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        main = json.loads((tmp / "self-cpu.json").read_text())
        return wall, main, max(0.0, tree - main), busiest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(what: str, results: dict[str, list[tuple[float, float, float, float]]], cpus: int) -> None:
    med = {v: tuple(statistics.median(r[i] for r in rs) for i in range(4)) for v, rs in results.items()}
    idle = {}  # the least wall time on idle CPUs: the busiest thread's CPU, and the CPU time / cpus
    for v, (wall, main, workers, busiest) in med.items():
        idle[v] = max(busiest, (main + workers) / cpus)
        print(f"  {what:8s} {v:14s} wall {wall:6.2f} s   CPU: main {main:6.2f} s + workers/exit {workers:5.2f} s "
              f"= {main + workers:6.2f} s, busiest thread {busiest:6.2f} s   rounds: "
              f"{[round(r[0], 1) for r in results[v]]}")
    base = "-j 1"
    for v in med:
        if v in (base, ONE_THREAD):
            continue
        line = f"  {what:8s} wall -j 1 / {v} = {med[base][0] / med[v][0]:.2f}x (target for -j 2: >= 1.70)"
        if ONE_THREAD in med:
            line += f";  -j 1 1-thread / {v} = {med[ONE_THREAD][0] / med[v][0]:.2f}x"
        print(line)
        print(f"  {what:8s} on {cpus} idle CPUs (from CPU times; a variant takes at least its busiest thread's "
              f"CPU and its CPU / {cpus}): " + ", ".join(f"{u} >= {idle[u]:.2f} s" for u in (base, v, ONE_THREAD)
                                                         if u in idle)
              + f"; -j 1 / {v} ~ {idle[base] / idle[v]:.2f}x"
              + (f", -j 1 1-thread / {v} ~ {idle[ONE_THREAD] / idle[v]:.2f}x" if ONE_THREAD in idle else ""))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="rounds of every variant")
    ap.add_argument("--what", default="run,compress", help="run, compress or both")
    ap.add_argument("--no-one-thread", action="store_true", help="skip the -j 1 OMP_NUM_THREADS=1 variant")
    ap.add_argument("--jobs", default="2", help="the -j values compared with -j 1, e.g. 2,4 on four CPUs; "
                                                "`default`: no -j (cvb picks from the CPUs free)")
    ap.add_argument("--codecs", default=CODECS)
    ap.add_argument("--metrics", default=None, help="image metrics (default: the commands' own)")
    ap.add_argument("--limit", type=int, default=None, help="samples of the task (run only)")
    args = ap.parse_args()
    global SIZE
    SIZE = (args.codecs, args.metrics, args.limit)
    from cvb.threads import available_cpus

    _subreaper()
    cpus = available_cpus()
    todo = variants(args.jobs.split(","), not args.no_one_thread)
    print(f"-j scaling with default metrics; cpus={cpus}, python {sys.version.split()[0]}, "
          f"median of {args.repeat} alternating rounds, wall and CPU seconds of the whole command")
    print(f"  load average before: {os.getloadavg()[0]:.1f}")
    for what in args.what.split(","):
        results: dict[str, list] = {v: [] for v in todo}
        for _ in range(args.repeat):
            for v, (jobs, extra) in todo.items():
                results[v].append(timed(what, jobs, extra))
        report(what, results, cpus)
    load = os.getloadavg()[0]
    print(f"  load average after: {load:.1f}")
    if load > cpus:
        print(f"  NOTE: other processes kept the {cpus} CPUs busy (load {load:.1f}): the kernel shares the CPUs "
              f"between sessions, so a second worker could not get a second core and the wall times say "
              f"little; the CPU seconds still hold. Measure on an idle machine (or pinned to 2 idle cores: "
              f"taskset -c 0,1 python benchmarks/bench_jobs.py)")


if __name__ == "__main__":
    main()
