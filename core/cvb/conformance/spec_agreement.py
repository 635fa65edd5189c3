"""The rule that a component's registered spec and its object agree.

``cvb list`` shows the spec (it is cheap: no plugin module imported); ``cvb run`` uses the
object. Where a plugin states a fact in both places (the name, a codec's default levels and
kind, a metric's direction), the two must say the same, or the listing misleads. Better than
keeping them in step by hand: state each fact once (a constant the spec and the class both read).
"""

from __future__ import annotations

from typing import Any

from .results import INFO, Report
from .subjects import Subject

RULE = "the registered spec and the object agree"


def _kind(value: Any) -> str:
    return str(getattr(value, "value", value))


def facts(category: str, spec: Any, obj: Any) -> list[tuple[str, Any, Any]]:
    """``[(fact, spec's value, object's value)]`` of the facts both state."""
    out: list[tuple[str, Any, Any]] = []
    name = getattr(obj, "name", None)
    if not spec.arg and isinstance(name, str):  # a component taking :ARG may name itself after it
        out.append(("name", spec.name, name))
    if category == "codec":
        if spec.levels and hasattr(obj, "default_levels"):
            out.append(("default levels", tuple(spec.levels), tuple(obj.default_levels)))
        if spec.kind and hasattr(obj, "kind"):
            out.append(("kind", spec.kind, _kind(obj.kind)))
    if category == "metric" and hasattr(obj, "higher_is_better"):
        out.append(("higher_is_better", bool(spec.higher_is_better), bool(obj.higher_is_better)))
    return out


def spec_agreement(report: Report, subj: Subject) -> None:
    if subj.spec is None:
        report.add(RULE, INFO, "checked as an object, not by its registered name: no spec to compare")
        return
    with report.rule(RULE) as r:
        stated = facts(subj.category, subj.spec, subj.obj)
        wrong = [f"{fact}: spec says {a!r}, the object {b!r}" for fact, a, b in stated if a != b]
        assert not wrong, ("; ".join(wrong) + " (`cvb list` shows the spec, `cvb run` uses the object: "
                           "state each fact once, in a constant both read)")
        r.detail = ", ".join(f"{fact}={a!r}" for fact, a, _ in stated) or "nothing stated twice"
