"""What a check is run on: a registered name (``jpeg``, ``hf:PATH``) or an object in hand."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass
class Subject:
    """The component under check, and how a fresh process can make the same one again."""

    category: str
    obj: Any
    ref: str | None = None  # registry reference, when the check was asked by name
    options: Mapping[str, Any] = field(default_factory=dict)
    pickled: bytes | None = None  # the object as created (before any use), when given as one
    pickle_error: str = ""
    spec: Any = None  # the registered Spec, when the check was asked by name
    registry: Any = None  # the registry it came from, when asked by name

    @property
    def name(self) -> str:
        return self.ref or str(getattr(self.obj, "name", type(self.obj).__name__))


def subject(category: str, component: Any, options: Mapping[str, Any] | None = None,
            registry=None) -> Subject:
    """A registered reference is created through the registry (its status check first, so an
    unusable component says why); an object is used as is and pickled now, before any use,
    so a fresh process gets it exactly as it was before encoding anything."""
    options = dict(options or {})
    if isinstance(component, str):
        from ..plugins import get_registry
        from ..run.plan import create
        from ..specs import split_ref

        registry = registry or get_registry()
        obj = create(registry, category, component, options)
        return Subject(category, obj, component, options,
                       spec=registry.spec(category, split_ref(component)[0]), registry=registry)
    if options:
        raise TypeError("options apply to a registered name; pass the object already configured")
    try:
        data, error = pickle.dumps(component), ""
    except Exception as exc:  # noqa: BLE001 - a lambda, a local class, an open handle
        data, error = None, f"{type(exc).__name__}: {exc}"
    return Subject(category, component, None, {}, data, error)


def start(category: str, component: Any, options: Mapping[str, Any] | None, registry):
    """A new report whose first rule, ``create``, makes the component: ``(report, subject)``,
    the subject None when creating it failed (the report then says why)."""
    import time

    from .results import Report

    label = component if isinstance(component, str) else str(getattr(component, "name", component))
    report = Report(category, label)
    subj = None
    t0 = time.perf_counter()
    with report.rule("create") as r:
        subj = subject(category, component, options, registry)
        r.detail = f"{type(subj.obj).__name__} ready in {time.perf_counter() - t0:.2f} s"
    if report.failures:
        return report, None
    from .plugin_load import plugin_load_rule

    plugin_load_rule(report, subj, subj.registry)  # a failure here leaves the other rules to run
    return report, subj
