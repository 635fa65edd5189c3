"""``report_store``: the report of a results store, as ``cvb report`` builds it, for Python callers.

Reading the store, choosing cells, resolving ``--adapted`` pairs, resampling and building the
report live here; ``cvb report`` parses its flags, calls ``report_store`` and prints or writes
the ``Report``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..errors import CvbError, UsageError
from ..identity import Identity, stored_label

from .cell import Cell
from .study import DEFAULT_RESAMPLES, DEFAULT_SEED, INFERENCES, INTERPOLATIONS, Study, store_path

if TYPE_CHECKING:
    from ..plugins import Registry
    from ..run.store import Store

__all__ = ["DEFAULT_RESAMPLES", "DEFAULT_SEED", "INFERENCES", "INTERPOLATIONS", "Report", "report_store",
           "report_study"]


@dataclass
class Report:
    """A built report: ``data`` is what report.json holds (``sections`` per task x VLM with
    their tables, BD-metrics and warnings; ``provenance``; ``inference``), ``cells`` the store's
    cells it was built from (``Cell``, as ``RunResult.cells``)."""

    data: dict[str, Any]
    cells: list[Cell]
    store: Path
    cache_dir: Path | None = None
    registry: Registry | None = field(default=None, repr=False)

    @property
    def sections(self) -> list[dict[str, Any]]:
        return self.data["sections"]

    def warnings(self) -> list[str]:
        """Every section's warnings, as ``TASK x VLM: warning``."""
        return [f"{s['task']} x {s['vlm']}: {w}" for s in self.sections for w in s["warnings"]]

    def json(self) -> str:
        from ..report.write import report_json

        return report_json(self.data)

    def markdown(self) -> str:
        from ..report.tables import markdown_report

        return markdown_report(self.data)

    def csv(self) -> str:
        from ..report.tables import cells_csv

        return cells_csv(self.data)

    def write(self, out_dir: Path, *, plots: bool = True, samples: int = 6,
              progress: Callable[[str], None] | None = None) -> list[Path]:
        """report.md, cells.csv, report.json, plots and report.html into ``out_dir``, with the
        sample browser (samples.html: ``samples`` per task; 0: none) first; the files written."""
        browser = self._sample_browser(Path(out_dir), samples, progress) if samples else []
        if browser:
            self.data["sample_browser"] = browser[0].name
        from ..report.write import write_report

        return browser + write_report(self.data, Path(out_dir), plots=plots, progress=progress)

    def _sample_browser(self, out_dir: Path, n: int, warn: Callable[[str], None] | None) -> list[Path]:
        """``samples.html`` and its images (see cvb.report.sample_browser)."""
        from ..plugins import get_registry
        from ..report.sample_browser import STEADY, write_browser
        from ..run.image_cache import ImageCache, default_cache_dir
        from ..run.store import Store

        with Store(self.store, create=False) as store:
            return write_browser(store, [c.as_dict() for c in self.cells], out_dir,
                                 ImageCache(self.cache_dir or default_cache_dir()), self.registry or get_registry(),
                                 flipping=n, steady=min(STEADY, n), warn=warn)


def load_cells(store: Store, task: str | None = None) -> list[dict]:
    """Cells of an open results store, only ``task``'s when given (a task with none is an error)."""
    cells = [dict(c) for c in store.cells(task=task)]
    if not cells and task:
        from ..errors import did_you_mean

        tasks = sorted({c["task"] for c in store.cells()})
        raise UsageError(f"no results for task {task!r} in {store.path}{did_you_mean(task, tasks)}; "
                         f"tasks present: {', '.join(tasks) or '(none)'}")
    return cells


def select_vlm(cells: list[dict], vlm: str, adapted: Mapping[str, str]) -> list[dict]:
    """The cells of ``vlm`` and of its adapted version, if ``--adapted`` names one."""
    keep = {vlm, adapted.get(vlm, vlm)}
    chosen = [c for c in cells if c["vlm"] in keep]
    if not chosen:
        from ..errors import did_you_mean

        vlms = sorted({c["vlm"] for c in cells})
        raise UsageError(f"no results for vlm {vlm!r}{did_you_mean(vlm, vlms)}; "
                         f"VLMs present: {', '.join(vlms) or '(none)'}")
    return chosen


def adapted_conditions(store: Store, cells: list[dict], adapted: Mapping[str, str]) -> dict[tuple, dict]:
    """``{(task, adapted_vlm, codec, level): {condition: answers}}``: what each adapted cell's
    answers were conditioned on, as the VLM said with each answer (``answer_meta``)."""
    from ..identity import answers_label

    out: dict[tuple, dict] = {}
    for t in sorted({c["task"] for c in cells}):
        for v in sorted(set(adapted.values())):
            for (codec, level), counts in store.answer_meta_counts(answers_label(t), v, "condition").items():
                out[(t, v, codec, level)] = counts
    return out


def _label_today(registry: Registry, typed: str) -> str | None:
    """The label a VLM named ``typed`` is filed under today (``Identity.read`` by its spec:
    ``hf:ORG/NAME`` -> its alias); None when no VLM of that name is registered."""
    try:
        return Identity.read(registry.spec("vlm", Identity.parse(typed).name), typed).label
    except CvbError:
        return None


def _as_stored(entries: Sequence[str], labels: Mapping[str, Any],
               read: Callable[[str], str | None] | None = None) -> list[str]:
    """``--adapted`` entries with each VLM named as the store names it (a relative adapter
    folder made absolute, an alias's hub id as the alias: ``identity.stored_label``)."""
    from ..analysis.gap import split_pair

    out = []
    for entry in entries:
        base, sep, adapted = split_pair(entry)
        out.append(f"{stored_label(base.strip(), labels, read)}={stored_label(adapted.strip(), labels, read)}"
                   if sep else stored_label(entry.strip(), labels, read))
    return out


def report_store(store: str | Path, *, task: str | None = None, vlm: str | None = None,
                 anchor: str | None = None, interp: str = "pchip", adapted: Sequence[str] = (),
                 allow_unlike: bool = False, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                 inference: str = "bootstrap", cache_dir: Path | None = None,
                 argv: Sequence[str] | None = None, progress: Callable[[str], None] | None = None,
                 registry: Registry | None = None) -> Report:
    """The report of results store ``store`` (``cvb report``'s options, docs/report.md).

    ``adapted``: "[VLM=]ADAPTED_VLM" pairs (``--adapted``); ``argv``: the command recorded in
    the report's provenance (default ``sys.argv``); ``progress``: called with progress notes
    (the resampling). Raises ``cvb.errors.UsageError`` for a missing or empty store, or a
    task, VLM or anchor it does not hold.
    """
    from ..analysis.gap import resolve_adapted
    from ..plugins import get_registry
    from ..report.build import build_report, check_names, run_codec_order
    from ..report.provenance import store_provenance
    from ..report.uncertainty import Options, report_stats
    from ..run.store import Store  # a missing store is a usage error (exit 2) there

    path = Path(store)
    registry = registry if registry is not None else get_registry()
    with Store(path, create=False) as st:
        cells = load_cells(st, task)
        if not cells:
            raise UsageError(f"the results store {path} holds no results yet")
        versions = st.component_versions()["vlms"]
        read = partial(_label_today, registry)
        adapted, vlm = _as_stored(adapted, versions, read), (vlm and stored_label(vlm, versions, read))
        pairs, unlike = resolve_adapted(tuple(adapted), versions, allow_unlike) if adapted else ({}, {})
        conditions = adapted_conditions(st, cells, pairs)
        if vlm is not None:
            cells = select_vlm(cells, vlm, pairs)
        check_names(cells, anchor, pairs)  # a typo found now, not after minutes of resampling
        opts = Options(resamples, seed, inference=inference)
        stats = report_stats(st, registry, cells, opts, progress=progress)
        prov = store_provenance(st, cells, sys.argv if argv is None else argv)
        codec_order = run_codec_order(st)
    data = build_report(cells, anchor=anchor, interp=interp, adapted=pairs, stats=stats,
                        provenance=prov, inference=opts.describe(), conditions=conditions, codec_order=codec_order)
    for section in data["sections"]:
        if section["vlm"] in pairs and section["vlm"] in unlike:
            section["warnings"].append(unlike[section["vlm"]])
    from ..run.summary import with_delta

    typed = [Cell.of(c) for c in with_delta([dict(c) for c in cells])]
    return Report(data=data, cells=typed, store=path, cache_dir=cache_dir, registry=registry)


def report_study(study: Study, **overrides: Any) -> Report:
    """The report of ``study``'s store with its ``[report]`` settings (``cvb report --config``);
    ``overrides``: ``report_store``'s keyword arguments, over the study's. The study's ``out``
    is not written here: ``Report.write(study.report["out"])`` writes it."""
    settings = {k: v for k, v in study.report.items() if k != "out"}
    return report_store(store_path(study), **{**settings, **overrides})
