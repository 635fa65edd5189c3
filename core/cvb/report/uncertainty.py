"""Confidence intervals and paired tests of a store's cells, from the stored predictions.

For each task x VLM the task is rebuilt from the run that wrote it (its registered name,
options, recorded in the store's ``runs`` table; ``--limit`` is the cells' ``n``), its samples are drawn
with replacement by image (``cvb.analysis.stats.cluster_resamples``, a fixed seed), and every
cell is rescored on each resample with the **task's own** ``score``: the interval of any score
(F1, MME, CIDEr, consistency) is then the task's rule applied to resampled data, never an
approximation of it. The same resamples serve every cell of the task, so a compressed cell and
the uncompressed one are always compared on the same draw (a paired bootstrap), and a codec's
curve of resampled scores gives the BD-metric's interval.

Every interval, p-value and star comes from these resamples (``stats.paired_bootstrap``), the
report's one verdict (``INFERENCES["bootstrap"]``). A score the task declares a plain accuracy
(``TaskScore.accuracy_scale``: ``scale x mean`` of its 0/1 ``judge`` verdicts, checked on the
full set and on resamples) is resampled with numpy instead of calling ``score`` again; under
``--inference mcnemar`` it gets the Wilson interval and McNemar's test instead (questions as
independent). When the task cannot be rebuilt (its data or plugin is gone) the cells get no
interval, say why, and still get McNemar's test from the verdicts the run stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..analysis import stats
from .section_stats import SectionStats

FEW_IMAGES = 20  # below this many images a cluster bootstrap is approximate (Cameron et al. 2008)
_CHECKS = 3  # resamples on which the accuracy shortcut must reproduce the task's own score


#: the report's verdict methods (``--inference``): name -> how tables and files name it
INFERENCES = {
    "bootstrap": "paired cluster bootstrap over images",
    "mcnemar": "exact McNemar, questions as independent",
}
#: what a cell's ``test`` / ``ci_method`` says (one name per method, in every output)
CLUSTER, MCNEMAR, WILSON = "cluster bootstrap", "mcnemar", "wilson"


@dataclass
class Options:
    resamples: int = stats.DEFAULT_RESAMPLES
    seed: int = stats.DEFAULT_SEED
    confidence: float = stats.CONFIDENCE
    inference: str = "bootstrap"  # a key of INFERENCES

    def describe(self) -> dict[str, Any]:
        """The method as ``report.json`` and every table footer record it."""
        return {"method": self.inference, "name": INFERENCES[self.inference], "unit": "image",
                "resamples": self.resamples, "seed": self.seed, "confidence": self.confidence}


def _label_options(label: str) -> dict[str, Any]:
    """``pope[circular=True,split=test]`` -> {circular: True, split: "test"}: a task label's
    options, typed as ``-o`` reads them."""
    from ..identity import Identity
    from ..options import coerce

    return {key: coerce(value) for key, value in Identity.parse(label).options}


def task_sources(store) -> dict[str, tuple[str, dict[str, Any]]]:
    """task label -> (registered reference, options) from the newest run that ran it."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for run in store.export_rows("runs"):  # oldest first: newer runs overwrite
        opts = run.get("options") or {}
        for t in opts.get("tasks") or []:
            if isinstance(t, dict) and t.get("label") and t.get("ref"):
                out[t["label"]] = (t["ref"], _label_options(t["label"]))
    return out


class TaskLoader:
    """Rebuilds each task once (a task's samples are shared by all its VLMs)."""

    def __init__(self, store: Any, registry: Any) -> None:
        self.store, self.registry = store, registry
        self._sources: dict | None = None
        self._tasks: dict[str, Any] = {}
        self._samples: dict[tuple[str, int], list | str] = {}

    def get(self, label: str, n: int) -> tuple[Any, list] | str:
        """(task, its first ``n`` samples as ``--limit n`` takes them) or why it cannot be rebuilt.

        A cell's ``n`` is the size of the set it was scored on, so ``samples(limit=n)`` is that
        set whatever ``--limit`` the run was given (a limit above the task's size gives all)."""
        if label not in self._tasks:
            self._tasks[label] = self._make(label)
        task = self._tasks[label]
        if isinstance(task, str):
            return task
        if (label, n) not in self._samples:
            try:
                self._samples[(label, n)] = list(task.samples(limit=n))
            except Exception as exc:  # noqa: BLE001 - data moved: no interval, say why
                self._samples[(label, n)] = f"task {label!r} cannot read its samples here ({type(exc).__name__}: {exc})"
        samples = self._samples[(label, n)]
        return samples if isinstance(samples, str) else (task, samples)

    def _make(self, label: str) -> Any:
        from ..run.plan import create

        if self._sources is None:
            self._sources = task_sources(self.store)
        if label not in self._sources:
            return f"no run in the store records how task {label!r} was built"
        ref, options = self._sources[label]
        try:
            return create(self.registry, "task", ref, options)
        except Exception as exc:  # noqa: BLE001 - data moved, plugin gone: no interval, say why
            return f"task {label!r} cannot be rebuilt here ({type(exc).__name__}: {exc})"


def _verdicts(task, samples, answers: Mapping[str, str]) -> np.ndarray | None:
    """The task's 0/1 verdict per sample (a failed sample is judged as an empty answer), or None."""
    out = np.empty(len(samples))
    for i, s in enumerate(samples):
        try:
            v = task.judge(s, answers.get(s.id) or "")
        except Exception:  # noqa: BLE001 - a task that cannot judge gets the generic bootstrap
            return None
        if v is None or v not in (0, 1):
            return None
        out[i] = float(v)
    return out


def _accuracy_scale(declared: float | None, score_of: Callable[[np.ndarray], float], verdicts: np.ndarray,
                    checks: Sequence[np.ndarray]) -> float | None:
    """The task's declared accuracy scale (``TaskScore.accuracy_scale``) when score == scale *
    mean(verdicts) holds on the full set and on ``checks``, else None. Never guessed from the
    values: with every verdict 0 any scale fits (an F1 of 0 is no accuracy in %)."""
    if not declared or not len(verdicts):
        return None
    scale = float(declared)
    if all(math.isclose(score_of(idx), scale * float(verdicts[idx].mean()), rel_tol=1e-9, abs_tol=1e-9)
           for idx in [np.arange(len(verdicts)), *checks]):
        return scale
    return None


def _fixed(x: float) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def section_stats(store, loader: TaskLoader, task_label: str, vlm: str, cells: Sequence[Mapping],
                  opts: Options) -> SectionStats:
    """Intervals, tests and bootstrap replicates of the cells of one task x VLM."""
    from ..identity import answers_label
    from .stored_answers import empty_answers_note, empty_counts, read_section

    out = SectionStats(resamples=opts.resamples, seed=opts.seed, confidence=opts.confidence,
                       inference=opts.inference)
    keys = [(c["codec"], str(c["level"])) for c in cells if c.get("score") is not None]
    # answers are stored under the label without scoring options (protocol, judge)
    stored_as = answers_label(task_label)
    stored = read_section(store, stored_as, vlm, keys)
    warning = empty_answers_note(empty_counts(stored))
    if warning:
        out.warnings.append(warning)
    ref_key = next((k for k in keys if k[0] == "none"), None)
    if not keys:
        return out
    made = _made(loader, task_label, cells)
    if isinstance(made, str):
        out.reason = made
        _stored_mcnemar(out, stored, ref_key)
        return out
    if opts.resamples <= 0:
        out.reason = "resampling switched off (--resamples 0)"
        _stored_mcnemar(out, stored, ref_key)
        return out
    task, samples = made
    stray = _stray_sample(stored, {s.id for s in samples}, task_label)
    if stray:
        out.reason = stray
        _stored_mcnemar(out, stored, ref_key)
        return out
    texts = store.answer_texts(stored_as, vlm)
    answers = {k: texts.get(k, {}) for k in keys}
    reference = answers.get(ref_key) if ref_key else None
    draws = Resamples(samples, opts.resamples, opts.seed)
    if opts.inference == "bootstrap" and len(draws.groups) < FEW_IMAGES:
        out.warnings.append(f"only {len(draws.groups)} images: with few clusters the cluster bootstrap's "
                            f"intervals are approximate (often too narrow below about {FEW_IMAGES}); "
                            f"compare --inference mcnemar")

    verdicts: dict[tuple[str, str], _Verdicts] = {}
    stored_score = {(c["codec"], str(c["level"])): c["score"] for c in cells}
    tally = _resampler(task, samples, draws, out)
    for k in keys:
        try:
            verdicts[k], out.replicates[k], out.cells[k] = _cell_stats(
                task, samples, answers[k], reference, draws, tally, opts, out, stored_score[k])
        except _ScoreChanged as changed:
            out.reason = (f"the rebuilt task {task_label!r} scores cell {k[0]} {k[1]} {changed.score:.6g}, "
                          f"the store says {stored_score[k]:.6g} (its data or rule changed since the run)")
            out.cells.clear()
            out.replicates.clear()
            _stored_mcnemar(out, stored, ref_key)
            return out
    if ref_key is not None:
        _compare_to_reference(out, [k for k in keys if k != ref_key], ref_key, verdicts, opts)
    return out


def _stray_sample(stored: Mapping, ids: set[str], task_label: str) -> str | None:
    """Why the stored answers cannot be rescored on the rebuilt task: the first answered sample
    it lacks (None: it has them all). Cells that share their sample ids are checked once."""
    checked: set[str] = set()
    for k, cell in stored.items():
        if cell.ids_joined in checked:
            continue
        stray = [sid for sid in cell.ids() if sid not in ids]
        if stray:
            return (f"the rebuilt task {task_label!r} lacks sample {stray[0]!r} of cell "
                    f"{k[0]} {k[1]} (its data changed since the run)")
        checked.add(cell.ids_joined)
    return None


#: a cell's per-sample 0/1 verdicts and the accuracy scale they give its score (McNemar's test
#: and the accuracy shortcut; both None for a score that is no declared accuracy)
_Verdicts = tuple["np.ndarray | None", "float | None"]


class _ScoreChanged(Exception):
    """The rebuilt task scores a cell otherwise than the store says."""

    def __init__(self, score: float):
        super().__init__(score)
        self.score = score


def _cell_stats(task: Any, samples: Sequence, answers: Mapping[str, str], reference: Any, draws: Resamples,
                tally: Any, opts: Options, out: SectionStats,
                stored_score: float) -> tuple[_Verdicts, np.ndarray, dict[str, Any]]:
    """One cell's verdicts, bootstrap replicates and interval; ``_ScoreChanged`` when its
    full-set score is not the stored one."""
    def score_of(idx: np.ndarray) -> float:
        return float(task.score([samples[i] for i in idx], answers, reference=reference).value)

    col = _columns(tally, answers, reference, out) if tally is not None and tally.checked else None
    # once the tally reproduced the task's score on a cell, a cell's full-set score is its counts'
    whole = tally.result(col) if col is not None else task.score(samples, answers, reference=reference)
    again = float(whole.value)
    if not math.isclose(again, stored_score, rel_tol=1e-6, abs_tol=1e-9):
        raise _ScoreChanged(again)
    declared = getattr(whole, "accuracy_scale", None)
    # verdicts: the accuracy shortcut and McNemar's test, which only a declared accuracy gets
    v = _verdicts(task, samples, answers) if declared else None
    scale = _accuracy_scale(declared, score_of, v, draws.checks) if v is not None else None
    if v is not None and scale is not None:
        reps = scale * (draws.totals(v) / draws.totals(np.ones(len(v))))
        if opts.inference == "mcnemar":
            lo, hi = stats.wilson(int(v.sum()), len(v), opts.confidence)
            return (v, scale), reps, {"ci": [scale * lo, scale * hi], "ci_method": WILSON}
    else:
        found = _tally_replicates(tally, col, answers, reference, again, score_of, out)
        reps = found if found is not None else np.array([score_of(draws.indices(r)) for r in range(draws.count)])
    lo, hi = stats.percentile_interval(reps, opts.confidence)
    return (v, scale), reps, {"ci": [_fixed(lo), _fixed(hi)], "ci_method": CLUSTER}


def _compare_to_reference(out: SectionStats, keys: Sequence[tuple[str, str]], ref_key: tuple[str, str],
                          verdicts: Mapping[tuple[str, str], _Verdicts], opts: Options) -> None:
    """Each cell of ``keys`` against the uncompressed one: McNemar's test on the verdicts where
    asked and both are accuracies, else the paired bootstrap of the replicates."""
    ref_verdicts, _ = verdicts[ref_key]
    for k in keys:
        info = out.cells[k]
        v, scale = verdicts[k]
        if opts.inference == "mcnemar" and v is not None and scale is not None and ref_verdicts is not None:
            test = stats.mcnemar(ref_verdicts, v)
            info.update(test)
            info["delta_ci"] = stats.mcnemar_interval(test["b"], test["c"], len(v), scale, opts.confidence)
            info["significant"] = bool(test["p"] < stats.alpha_of(opts.confidence))
        else:  # interval, p and verdict from the same resampled differences
            info.update(stats.paired_bootstrap(out.replicates[k] - out.replicates[ref_key], opts.confidence))
            info["test"] = CLUSTER


class Resamples:
    """The image-level bootstrap draws of one task's samples (``stats.cluster_resamples``, the
    same draws for every cell), as index lists and as per-image draw counts."""

    def __init__(self, samples: Sequence, count: int, seed: int):
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(samples):
            groups.setdefault(s.image.key, []).append(i)
        self.groups = [np.asarray(g, dtype=np.int64) for g in groups.values()]
        self.group_of = np.empty(len(samples), dtype=np.int64)
        for g, members in enumerate(self.groups):
            self.group_of[members] = g
        self.draws = stats.cluster_draws(len(self.groups), count, seed)
        self.count = len(self.draws)
        self.checks = [self.indices(r) for r in range(min(_CHECKS, self.count))]
        self._weights: np.ndarray | None = None

    def indices(self, r: int) -> np.ndarray:
        """The sample indices of resample ``r`` (image by image, as ``cluster_resamples``)."""
        return np.concatenate([self.groups[g] for g in self.draws[r]])

    def totals(self, per_sample: np.ndarray) -> np.ndarray:
        """Sums of a per-sample quantity (``(n,)`` or ``(n, k)``) over every resample at once:
        ``(R,)`` or ``(R, k)``; exact for integer counts."""
        if self._weights is None:
            self._weights = stats.draw_counts(self.draws)
        x = np.asarray(per_sample, dtype=float)
        g = len(self.groups)
        per_group: np.ndarray
        if x.ndim == 1:
            per_group = np.bincount(self.group_of, weights=x, minlength=g)
        else:  # column by column: exact sums of integers, as np.add.at gave, a fraction of the time
            per_group = np.stack([np.bincount(self.group_of, weights=x[:, j], minlength=g)
                                  for j in range(x.shape[1])], axis=1) if x.shape[1] else np.zeros((g, 0))
        return self._weights @ per_group


def _resampler(task, samples: Sequence, draws: "Resamples", out: SectionStats):
    """The task's ``Tally`` over this section's resamples (``cvb.report.tally_resample``), or
    None when its scorer is no tally."""
    from .tally_resample import TallyResampler

    try:
        made = TallyResampler(task, samples, draws)
    except Exception as exc:  # noqa: BLE001 - a broken scorer: the task's own score still serves
        _warn_once(out, f"task {getattr(task, 'name', type(task).__name__)!r}: its scorer failed "
                        f"({type(exc).__name__}: {exc}); every resample rescored with its score instead")
        return None
    return made if made.tally is not None else None


def _columns(tally, answers: Mapping[str, str], reference, out: SectionStats) -> np.ndarray | None:
    try:
        return tally.columns(answers, reference)
    except Exception as exc:  # noqa: BLE001 - a broken scorer: the task's own score still serves
        tally.checked = False
        _scorer_failed(out, tally, exc)
        return None


def _tally_replicates(tally, col: np.ndarray | None, answers: Mapping[str, str], reference, whole: float,
                      score_of: Callable[[np.ndarray], float], out: SectionStats) -> np.ndarray | None:
    """The bootstrap replicates from the counts of the task's ``Tally`` scorer
    (``cvb.report.tally_resample``), or None when it has none or they disagree with its
    ``score`` (a warning says so)."""
    if tally is None:
        return None
    try:
        if col is None:
            col = tally.columns(answers, reference)
        reps = tally.replicates(col, whole, score_of)
    except Exception as exc:  # noqa: BLE001 - a broken scorer: the task's own score still serves
        _scorer_failed(out, tally, exc)
        return None
    if reps is None:
        _warn_once(out, f"task {tally.name!r}: its scorer's counts do not reproduce its score; every "
                        f"resample rescored with its score instead")
    return reps


def _scorer_failed(out: SectionStats, tally, exc: Exception) -> None:
    _warn_once(out, f"task {tally.name!r}: its scorer failed on resampled counts ({type(exc).__name__}: "
                    f"{exc}); every resample rescored with its score instead")


def _warn_once(out: SectionStats, warning: str) -> None:
    if warning not in out.warnings:
        out.warnings.append(warning)


def _stored_mcnemar(out: SectionStats, stored: Mapping, ref_key) -> None:
    """McNemar's test from the 0/1 verdicts the run stored (a failed sample counts as wrong)."""
    from .stored_answers import stored_mcnemar

    if ref_key is None:
        return
    for k, cell in stored.items():
        if k == ref_key:
            continue
        test = stored_mcnemar(stored[ref_key], cell)
        if test is not None:  # no interval: the score's scale is the task's, which is not here
            out.cells.setdefault(k, {}).update(test, significant=bool(test["p"] < stats.alpha_of(out.confidence)))


def report_stats(store, registry, cells: Sequence[Mapping], opts: Options | None = None,
                 progress: Callable[[str], None] | None = None,
                 cache: bool = True) -> dict[tuple[str, str], SectionStats]:
    """``{(task, vlm): SectionStats}`` for every task x VLM of ``cells``; ``cache``: reuse and
    keep them in ``cvb.report.stats_cache`` (unchanged inputs give the same numbers)."""
    from ..analysis.curves import group_cells
    from ..run import judge_replies
    from ..identity import answers_label
    from .stats_cache import StatsCache

    opts = opts or Options()
    loader = TaskLoader(store, registry)
    kept = StatsCache(store, opts) if cache else None
    out, reused = {}, 0
    try:
        with judge_replies.kept_in(store):  # rescoring reads a judge's stored replies, never re-asks
            sections = group_cells(cells)
            for i, ((task, vlm), group) in enumerate(sections.items(), 1):
                key = kept.key(task, vlm, answers_label(task), _made(loader, task, group)) if kept else None
                st = kept.get(key) if kept and key else None
                if st is not None:
                    reused += 1
                else:
                    if progress:
                        progress(f"resampling {task} x {vlm} ({i}/{len(sections)}): {len(group)} cells x "
                                 f"{opts.resamples} resamples")
                    st = section_stats(store, loader, task, vlm, group, opts)
                    if kept and key:
                        kept.put(key, st)
                out[(task, vlm)] = st
    finally:
        if kept:
            kept.close()
    if reused and progress and kept:
        progress(f"statistics of {reused} task x VLM section(s) unchanged since an earlier report: "
                 f"reused from {kept.path}")
    return out


def _made(loader: TaskLoader, task_label: str, cells: Sequence[Mapping]) -> tuple[Any, list] | str:
    """The rebuilt task and the samples its scored cells were scored on, or why there are none."""
    sizes = sorted({int(c["n"]) for c in cells if c.get("score") is not None})
    if not sizes:
        return "no scored cell"
    if len(sizes) > 1:
        return (f"the cells were scored over different sample sets (n = {', '.join(map(str, sizes))}); "
                f"rerun them with one --limit")
    return loader.get(task_label, sizes[0])
