"""``-j`` of `cvb run` and `cvb compress`: a number of worker processes, or ``auto``."""

from __future__ import annotations

import click


class Jobs(click.ParamType):
    """A count of at least 1, or ``auto`` (kept as the string; ``cvb.threads.resolve_jobs``
    turns it into the CPUs free when the command starts)."""

    name = "N|auto"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or str(value).strip().lower() == "auto":
            n = value if isinstance(value, int) else "auto"
        else:
            try:
                n = int(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is neither a number of processes nor 'auto'", param, ctx)
        if n != "auto" and n < 1:
            self.fail(f"{value} is not a number of processes (1 or more), nor 'auto'", param, ctx)
        return n


def jobs_option(what: str):
    return click.option(
        "--jobs", "-j", type=Jobs(), default=1, show_default=True,
        help=f"{what} `auto`: one per CPU free now (the CPUs this process may use, by affinity and "
             f"cgroup quota, less the load average), since more workers than free CPUs only share "
             f"them; a note says when -j N exceeds the free CPUs.")


def resolved(jobs: int | str) -> tuple[int, str | None]:
    """(worker count, a note for the user or None) for ``-j``'s value."""
    from ..threads import jobs_and_note

    return jobs_and_note(jobs)
