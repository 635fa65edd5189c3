"""``-j`` of `cvb run` and `cvb compress`: a number of worker processes, or ``auto``."""

from __future__ import annotations

import click


class Jobs(click.ParamType):
    """A count of at least 1, or ``auto`` (kept as the string; ``cvb.threads.jobs_and_note``
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
        if isinstance(n, int) and n < 1:
            self.fail(f"{value} is not a number of processes (1 or more), nor 'auto'", param, ctx)
        return n


def jobs_option(what: str):
    from ..threads import JOBS_ENV

    return click.option(
        "--jobs", "-j", type=Jobs(), default=None, envvar=JOBS_ENV, show_envvar=True,
        help=f"{what} `auto`, the default: one per CPU free now (the CPUs this process may use, by "
             f"affinity and cgroup quota, less the load average), and none for work too small to "
             f"pay for a worker's start-up; a note says when busy CPUs hold the count down, or "
             f"when -j N exceeds the free CPUs.")


def resolved(jobs: int | str | None) -> tuple[int, str | None]:
    """(worker count, a note for the user or None) for ``-j``'s value (None: not given)."""
    from ..threads import jobs_and_note

    return jobs_and_note(jobs)
