"""CPU threads budgeted between cvb's processes.

Native libraries (torch, OpenMP/BLAS, some codecs) start one thread per core in every process
that uses them. With ``-j N`` worker processes that is N times the machine's cores, all busy at
once, and the run gets slower, not faster (two MS-SSIM workers on two cores ran 2.3x slower than
one). So each worker gets ``cores // N`` threads (at least one), set before its heavy imports
through the variables those libraries read at start-up, and through torch's own setting when
torch is already loaded (a forked worker inherits the parent's).

OpenMP's threads also wait for work *passively* in cvb's processes (``OMP_WAIT_POLICY``, unless
the user set it): its default, spinning, makes every pool burn the cores others need when
processes share them (MS-SSIM with two threads on a busy two-core machine: 1.15 s spinning,
0.22 s passive).

Plugins that start threads of their own (an encoder's ``max_threads``) read
:func:`thread_budget`, which is this process's share.
"""

from __future__ import annotations

import math
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import multiprocessing.context

#: the variables OpenMP, the BLAS libraries, numexpr and Rust's rayon read when they start
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "RAYON_NUM_THREADS")
_BUDGET_ENV = "CVB_THREADS"  # this process's budget, as set by limit_threads (inherited by children)


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, a container's cpuset), and the
    cgroup's CPU quota where one is set (a container limited to 1.5 CPUs gets 2)."""
    try:
        cpus = max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        cpus = max(1, os.cpu_count() or 1)
    quota = cgroup_quota()
    return cpus if quota is None else max(1, min(cpus, math.ceil(quota)))


def cgroup_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """CPUs the cgroup's quota allows this process (cgroup v2 ``cpu.max``, v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), or None where there is no quota."""
    try:
        own = dict(line.split(":", 2)[1:] for line in open("/proc/self/cgroup").read().splitlines()
                   if line.count(":") >= 2)
    except OSError:
        own = {}
    v2 = os.path.join(root, own.get("", "/").lstrip("/"), "cpu.max")
    for path in dict.fromkeys((v2, os.path.join(root, "cpu.max"))):
        try:
            limit, span = open(path).read().split()[:2]
            return None if limit == "max" else int(limit) / int(span)
        except (OSError, ValueError):
            continue
    v1 = next((v for k, v in own.items() if "cpu" in k.split(",")), "/")
    for folder in dict.fromkeys((os.path.join(root, "cpu", v1.lstrip("/")), os.path.join(root, "cpu"))):
        try:
            quota = int(open(os.path.join(folder, "cpu.cfs_quota_us")).read())
            period = int(open(os.path.join(folder, "cpu.cfs_period_us")).read())
            return None if quota <= 0 else quota / period
        except (OSError, ValueError):
            continue
    return None


def free_cpus(cpus: int | None = None, load: float | None = None) -> int:
    """CPUs free for new work now: this process's CPUs (:func:`available_cpus`) less what other
    processes keep busy (the load average over the last minute), at least one. A second
    worker pays only where a second CPU is free: on two CPUs at load 4-6, ``-j 2`` ran at
    0.9x the speed of ``-j 1`` with 10% more CPU."""
    cpus = cpus or available_cpus()
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    return max(1, min(cpus, round(cpus - load)))


def per_worker(n_workers: int, cpus: int | None = None) -> int:
    """Threads each of ``n_workers`` busy processes gets so that together they fill the CPUs."""
    return max(1, (cpus or available_cpus()) // max(1, n_workers))


def thread_budget() -> int:
    """Threads this process should use at most: its budget when cvb set one (a ``-j`` worker's
    share), else every CPU free now (:func:`free_cpus`: other processes' load counts)."""
    try:
        return max(1, int(os.environ[_BUDGET_ENV]))
    except (KeyError, ValueError):
        return free_cpus()


def share_cores() -> None:
    """Let OpenMP's idle threads sleep instead of spinning (before torch is imported)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def limit_threads(n: int) -> None:
    """Cap this process's native thread pools at ``n``: the environment variables the libraries
    read when first imported, and torch's setting if torch is already imported. A smaller value
    the user set in the environment is kept."""
    n = max(1, int(n))
    share_cores()
    for var in THREAD_ENV:
        try:
            user = int(os.environ[var])
        except (KeyError, ValueError):
            user = 0
        os.environ[var] = str(min(n, user) if user > 0 else n)
    os.environ[_BUDGET_ENV] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(n)


def jobs_note(jobs: int, cpus: int | None = None, free: int | None = None) -> str | None:
    """A line for the user when ``-j`` asks for more workers than there are CPUs to run them,
    or than are free now (other processes keep the rest busy: more workers cannot pay)."""
    cpus = cpus or available_cpus()
    if jobs > cpus:
        return (f"-j {jobs} on {cpus} CPU(s): at most {cpus} workers can run at once, the others "
                f"only add start-up and memory; -j {cpus} is as fast")
    free = free or free_cpus(cpus)
    if jobs > 1 and jobs > free:
        try:
            load = f" (load average {os.getloadavg()[0]:.1f})"
        except (AttributeError, OSError):
            load = ""
        return (f"-j {jobs}: only {free} of {cpus} CPU(s) free now{load}; other processes keep the "
                f"rest busy, so {jobs} workers would share {free} and -j {jobs} cannot pay "
                f"(-j {free} is as fast, with less CPU; -j auto picks the free CPUs)")
    return None


#: the environment variable that sets ``-j`` when the command line does not (``auto`` when unset)
JOBS_ENV = "CVB_JOBS"
#: levels (one image x codec x level: an encode, a decode, its metrics) each worker of a pool
#: that cvb sized itself must have before it starts: a worker's start-up (its imports, torch's
#: among them: 1.3-2 s of CPU) only pays over about this much work (``cvb run -t sample -c
#: jpeg`` measured 0.27 s per level on two cores, and ``-j 2`` 1.35x faster than ``-j 1``)
LEVELS_PER_WORKER = 16


class AutoWorkers(int):
    """A worker count cvb chose (``-j auto``, the default): the CPUs free when the command
    started. The pool starts fewer workers, or none (the units then run in the command's own
    process), when the work is too small to pay for their start-up (:func:`workers_for`)."""


def workers_for(n_workers: int, levels: int) -> int:
    """Workers for ``levels`` to compress: ``n_workers`` as asked, but a count cvb chose
    (:class:`AutoWorkers`) only as many as have :data:`LEVELS_PER_WORKER` levels each."""
    if isinstance(n_workers, AutoWorkers):
        return max(1, min(int(n_workers), levels // LEVELS_PER_WORKER))
    return int(n_workers)


def default_jobs_note(workers: int, cpus: int | None = None) -> str | None:
    """The line that says why the default ``-j`` runs fewer workers than there are CPUs: other
    processes keep them busy (None when every usable CPU is free, or only one is usable)."""
    cpus = cpus or available_cpus()
    if workers >= cpus:
        return None
    try:
        load = f" (load average {os.getloadavg()[0]:.1f})"
    except (AttributeError, OSError):
        load = ""
    how = "compression runs in this process" if workers == 1 else f"{workers} worker processes"
    return (f"-j: {workers} of {cpus} CPU(s) free now{load}, so {how}: more workers would only share "
            f"the busy CPUs and cannot pay (-j N sets a count)")


def jobs_and_note(jobs: int | str | None) -> tuple[int, str | None]:
    """(worker count, a note for the user or None) for ``-j``'s value: a count, ``auto``, or None
    (not given: ``$CVB_JOBS``, else ``auto`` with a note only when busy CPUs hold the count down). ``auto`` is the
    CPUs free now (:func:`free_cpus`) as :class:`AutoWorkers`, which the pool cuts to the work."""
    if jobs is None:
        jobs = os.environ.get(JOBS_ENV, "").strip()
        if not jobs:
            n = AutoWorkers(free_cpus())
            return n, default_jobs_note(n)
        if jobs.lower() != "auto" and not (jobs.isdigit() and int(jobs) >= 1):
            from .errors import UsageError

            raise UsageError(f"{JOBS_ENV}={jobs!r} is neither a number of processes (1 or more) nor 'auto'")
    if str(jobs).strip().lower() == "auto":
        n = AutoWorkers(free_cpus())
        return n, f"-j auto: {n} worker process(es), the CPUs free now ({available_cpus()} usable)"
    return int(jobs), jobs_note(int(jobs))


def process_context(preload: list[str] | tuple[str, ...] = ()) -> multiprocessing.context.BaseContext:
    """How worker processes start (the ``-j`` pool, the report's plotting processes). Forked
    from this process when no other thread runs here (fast: imports are inherited); otherwise
    forked by a fork server (a clean single-threaded process started once, importing
    ``preload``), since another thread (inference beside compression, a progress bar) may hold a
    lock at the moment of a fork (an import in progress) that the child would then wait on
    forever; spawned where neither exists."""
    import multiprocessing as mp
    import threading

    methods = mp.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))
        return ctx
    return mp.get_context("spawn")
