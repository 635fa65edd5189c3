"""What a conformance check reports: one row per rule, and the verdict of the whole check."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

PASS, FAIL, SKIP, INFO = "pass", "fail", "skip", "info"


@dataclass
class CheckResult:
    """One rule: ``status`` is pass, fail, skip (with the reason it was not run) or info."""

    rule: str
    status: str
    detail: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"rule": self.rule, "status": self.status, "detail": self.detail,
                "seconds": round(self.seconds, 3)}


class CheckFailed(AssertionError):
    """Raised by ``Report.raise_for_failures`` so a pytest test shows every failed rule."""


@dataclass
class Report:
    """The conformance report of one component (``category`` codec, vlm, task or metric)."""

    category: str
    name: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.status != FAIL for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAIL]

    def add(self, rule: str, status: str, detail: str = "", seconds: float = 0.0) -> CheckResult:
        result = CheckResult(rule, status, detail, seconds)
        self.results.append(result)
        return result

    def skip(self, rule: str, reason: str) -> CheckResult:
        return self.add(rule, SKIP, reason)

    @contextmanager
    def rule(self, name: str) -> Iterator[CheckResult]:
        """Run one rule: an ``AssertionError`` is its failure reason, any other exception a
        failure naming the exception; otherwise it passes (the body may set ``detail``)."""
        result = CheckResult(name, PASS)
        t0 = time.perf_counter()
        try:
            yield result
        except AssertionError as exc:
            result.status, result.detail = FAIL, str(exc) or "assertion failed"
        except Exception as exc:  # noqa: BLE001 - a crash is that rule's failure, the rest goes on
            result.status, result.detail = FAIL, f"raised {type(exc).__name__}: {exc}"
        result.seconds = time.perf_counter() - t0
        self.results.append(result)

    def as_dict(self) -> dict:
        return {"category": self.category, "name": self.name, "ok": self.ok,
                "results": [r.as_dict() for r in self.results]}

    def summary(self) -> str:
        counts = {s: sum(r.status == s for r in self.results) for s in (PASS, FAIL, SKIP)}
        verdict = "PASSED" if self.ok else "FAILED"
        return (f"{self.category} {self.name}: {verdict} ({counts[PASS]} passed, {counts[FAIL]} failed, "
                f"{counts[SKIP]} skipped)")

    def text(self) -> str:
        """A plain-text table (what pytest prints when the check fails)."""
        width = max([len(r.rule) for r in self.results] + [4])
        lines = [self.summary()]
        lines += [f"  {r.status.upper():4}  {r.rule:{width}}  {r.detail}" for r in self.results]
        return "\n".join(lines)

    def raise_for_failures(self) -> "Report":
        if not self.ok:
            raise CheckFailed(self.text())
        return self
