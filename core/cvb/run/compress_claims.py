"""The compression stage shared with concurrent runs: each unit's levels are claimed
(``cvb.run.claims``) a small batch at a time, just before the executor takes them.

A level this run claims is checked against the store once more (a run beside it may have
stored it since this run listed its units) and done only when still needed. A level another
live run holds is set aside; once every other unit is done, the set-aside levels are looked at
again until each is settled: stored by the other run (handed on as an outcome done
``elsewhere``: the main thread marks its key done, so the samples waiting for it go on), or
free again (its holder ended or died) and then claimed and done here. The executor is never
kept waiting inside its iterator (a pool holding finished units while its iterator waits on
another run that waits on those units would never end).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable, Iterable, Iterator, Sequence

from .claims import Claims, compression_unit, poll_delays
from .compress_units import ImageJob, JobOutcome, LevelOutcome, LevelWork
from .store import batched

_CLAIM_BATCH = 16  # units claimed in one transaction

#: (levels claimed by this run) -> {key: what is still to do (None: nothing), stored error}
Recheck = Callable[[Sequence[LevelWork]], dict[str, tuple[LevelWork | None, str | None]]]
Run = Callable[[Iterable[ImageJob], threading.Event], Iterator[JobOutcome]]


def shared(run: Run, claims: Claims, recheck: Recheck) -> Run:
    """``run`` (an executor's compression: jobs and a stop event to outcomes) with every level
    claimed before it is done, and the levels of other runs waited for at the end."""

    def claimed_run(jobs: Iterable[ImageJob], stop: threading.Event) -> Iterator[JobOutcome]:
        state = _Shared(claims, recheck)
        for outcome in run(state.claimed(jobs), stop):
            yield outcome
            yield from state.settled()
        yield from state.settled()
        delays = poll_delays()
        while state.aside and not stop.is_set():
            todo = list(state.claimed(state.take_aside()))
            yield from state.settled()
            if todo:
                delays = poll_delays()
                yield from run(iter(todo), stop)
            elif state.aside:
                claims.renew()
                stop.wait(next(delays))

    return claimed_run


class _Shared:
    def __init__(self, claims: Claims, recheck: Recheck):
        self.claims, self.recheck = claims, recheck
        self.aside: list[ImageJob] = []  # levels another live run holds
        self._done: list[JobOutcome] = []  # levels found settled by another run

    def take_aside(self) -> list[ImageJob]:
        aside, self.aside = self.aside, []
        return aside

    def settled(self) -> Iterator[JobOutcome]:
        done, self._done = self._done, []
        yield from done

    def claimed(self, jobs: Iterable[ImageJob]) -> Iterator[ImageJob]:
        """The units of ``jobs`` with only the levels this run claimed and still has to do."""
        for chunk in batched(jobs, _CLAIM_BATCH):
            mine = self.claims.claim(compression_unit(w.key) for job in chunk for w in job.levels)
            todo = self.recheck([w for job in chunk for w in job.levels if compression_unit(w.key) in mine])
            for job in chunk:
                held = tuple(w for w in job.levels if compression_unit(w.key) not in mine)
                if held:
                    self.aside.append(replace(job, levels=held))
                work = tuple(todo[w.key][0] for w in job.levels if w.key in todo and todo[w.key][0] is not None)
                elsewhere = [w for w in job.levels if w.key in todo and todo[w.key][0] is None]
                if elsewhere:
                    self.claims.release(compression_unit(w.key) for w in elsewhere)
                    self._done.append(JobOutcome(replace(job, levels=tuple(elsewhere)), elsewhere=True, levels=[
                        LevelOutcome(w.key, w.level, error=todo[w.key][1]) for w in elsewhere]))
                if work:
                    yield replace(job, levels=work)
