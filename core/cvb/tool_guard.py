"""External tools die with the cvb process that started them, ``kill -9`` included.

An external tool (an encoder binary, a research codec's worker) runs in a process group of its
own, so that a timeout or Ctrl-C can kill it with everything it started. A process group of its
own also means nothing kills it when cvb itself is killed: ``kill -9`` of ``cvb run`` (or of a
``-j`` worker ended by the run's death) would leave the tool running, reparented to init.

So each cvb process that starts tools also starts one small guard (a bare Python process, in a
session of its own, importing nothing of cvb), and tells it over a pipe which process groups are
running (``+PGID``) and which are done (``-PGID``). When the pipe's other end closes, which the
kernel does when cvb exits however it dies, the guard kills every group still on its list.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

#: the guard: reads +PGID/-PGID lines; at end of input, SIGKILLs the groups still listed
GUARD_CODE = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line[:1] == "+":
        groups.add(int(line[1:]))
    elif line[:1] == "-":
        groups.discard(int(line[1:]))
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""

_lock = threading.Lock()
_running: dict[int, subprocess.Popen] = {}  # this process's watched tools, by pid (= group id)
_guard: subprocess.Popen | None = None
_owner: int | None = None  # the pid that started ``_guard`` (a forked child must start its own)


def _forget_in_child() -> None:
    """A forked child (a ``-j`` worker) must not hold the parent's pipe open: the parent's guard
    would then not see the parent die while the child lives."""
    global _guard, _owner
    if _guard is not None and _guard.stdin is not None:
        try:
            _guard.stdin.close()  # this process's copy of the pipe; the parent's stays open
        except OSError:
            pass
    _guard, _owner = None, None
    _running.clear()  # the parent's tools are the parent's


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def _send(line: str) -> bool:
    with _lock:
        if not _ensure_locked():
            return False
        assert _guard is not None and _guard.stdin is not None  # _ensure_locked started it
        try:
            _guard.stdin.write(line + "\n")
            _guard.stdin.flush()
            return True
        except (OSError, ValueError):
            return False


def ensure() -> None:
    """Start this process's guard now, before a tool starts: ``watch`` then only writes a line,
    which leaves a window of microseconds (not a process start) in which a ``kill -9`` of cvb
    would miss the tool just started."""
    if os.name == "posix":
        with _lock:
            _ensure_locked()


def _ensure_locked() -> bool:
    """A running guard of this process's own (called with ``_lock`` held)."""
    global _guard, _owner
    if _guard is None or _owner != os.getpid() or _guard.poll() is not None:
        try:
            _guard = subprocess.Popen([sys.executable, "-S", "-c", GUARD_CODE], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      text=True, start_new_session=True, close_fds=True)
        except OSError:
            _guard = None
            return False
        _owner = os.getpid()
    return True


def watch(proc: subprocess.Popen) -> None:
    """Kill ``proc``'s process group (it leads one: ``start_new_session=True``) if this process
    dies before ``release(proc)``. Best effort: where no guard can start, nothing changes."""
    with _lock:
        _running[proc.pid] = proc
    if os.name == "posix":
        _send(f"+{proc.pid}")


def release(proc: subprocess.Popen) -> None:
    """``proc`` is finished (and its group killed or empty): the guard forgets it."""
    with _lock:
        _running.pop(proc.pid, None)
    if os.name == "posix" and _guard is not None and _owner == os.getpid():
        _send(f"-{proc.pid}")


def kill_running() -> int:
    """SIGKILL the group of every tool this process is running now (Ctrl-C of a run whose
    compression thread waits on a tool: the thread's call then returns at once, instead of
    after the tool's timeout). Returns how many groups were signalled."""
    import signal

    with _lock:
        procs = list(_running.values())
    killed = 0
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError, AttributeError):
                pass
    return killed
