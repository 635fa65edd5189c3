"""Which process a run is, so a run killed with -9 (no chance to record its end) is found later.

A run records its pid, host and its process's start (on Linux: the boot id and the start time
in clock ticks from ``/proc``, which together name one process for good). The next writable
open of the store marks a ``running`` run of this host as ``killed`` when its pid no longer
exists, or now belongs to another process (the pid was reused: a different start). A run of
another host, or one recorded before cvb kept its pid, is left as it is: nothing here can tell.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def host() -> str:
    return socket.gethostname()


def process_start(pid: int) -> str | None:
    """What tells this process from a later one with the same pid; None where unknown."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces or parentheses: count from the last ')'
    return f"{boot}:{stat[stat.rindex(')') + 2:].split()[19]}"


def this_process() -> tuple[int, str, str | None]:
    """(pid, host, start) of the running cvb."""
    pid = os.getpid()
    return pid, host(), process_start(pid)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return True  # cannot tell (a platform without signals): assume alive
    return True


def _zombie(pid: int) -> bool:
    """Killed but not yet waited for by its parent: gone all the same."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].startswith("Z")


def is_gone(pid: int | None, run_host: str | None, start: str | None) -> bool:
    """Whether the process of a ``running`` run is known to have ended."""
    if pid is None or run_host != host():
        return False
    if not _pid_exists(pid) or _zombie(pid):
        return True
    if start is None:
        return False
    now = process_start(pid)
    return now is not None and now != start
