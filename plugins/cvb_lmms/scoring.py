"""A bridged task's verdicts and aggregates: lmms-eval's own code on each stored answer.

Per answer, as lmms-eval's evaluator does it (evaluator.py ``_process_document_results``):
every filter pipeline of the task (``filter_list``; ``none`` = take the first response when it
has none) runs on the response, then ``process_results(doc, [filtered])``, which strips the
text (api/task.py:1586-1589). A missing answer (the query failed) is the empty response.
Per cell: each metric's aggregation function over the per-document values, in document
order (evaluator_utils.py:115-123, with ``args`` where the function takes it).

The per-sample verdict cvb stores (``judge``) is the headline metric's value for the document:
the first metric of the task's ``metric_list`` under its first filter, where that value is a
number in [0, 1] (``exact_match``, ``anls``, ChartQA's relaxed accuracy) or a dict with the
task's ``score_key``; else that metric's aggregation over the one document, where it gives a
number in [0, 1] (MMMU's accuracy of one answer); None where neither says (a submission file).

A ``multiple_choice`` document was answered with the letter of one choice (read from logits):
it reaches ``process_results`` as lmms-eval's per-choice (loss, is_greedy) pairs, the chosen
choice the lowest loss (lmms-eval takes the argmin, api/task.py:1626-1627).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import math
import pickle
import tempfile
from collections import Counter
from types import SimpleNamespace
from typing import Any

from cvb.scoring.tally import Tally
from cvb.types import Sample, TaskScore


#: documents whose ``process_results`` keys pick the headline metric
PROBE = 64


class Scoring:
    def __init__(self, task: Any, output_type: str, metric: str | None = None):
        self.task = task
        self.output_type = output_type
        self.filters = list(task._filters)
        self.metrics = list(task.aggregation())
        if not self.metrics:
            raise ValueError(f"lmms-eval task {task.config.task!r} declares no metric")
        if metric is not None and metric not in self.metrics:
            from cvb.errors import UsageError

            raise UsageError(f"lmms-eval:{task.config.task}: no metric {metric!r}; its metrics: "
                             f"{', '.join(self.metrics)}")
        self.metric = metric
        self.score_key = getattr(task.config, "score_key", None) or "score"
        self._headline_metric: str | None = None

    # ---- per document --------------------------------------------------------------------
    def _process(self, doc: dict, results: list) -> dict:
        from lmms_eval.api.task import ConfigurableTask

        # the method without its @retry (5 tries 2 s apart: a scoring bug is no network glitch)
        with seeded():
            return ConfigurableTask.process_results.__wrapped__(self.task, doc, results)

    def results(self, sample: Sample, prediction: str | None) -> dict[str, dict]:
        """filter name -> ``process_results``' dict of metric values, for one answer."""
        doc = copy.deepcopy(dict(sample.meta.get("doc") or {}))  # some process_results edit it (VizWiz)
        if self.output_type == "multiple_choice":
            chosen = _choice_index(sample, prediction)
            n = len(sample.options)
            pairs = [(0.0 if j == chosen else 1.0, j == chosen) for j in range(n)]
            return {f.name: self._process(doc, pairs) for f in self.filters}
        out = {}
        for f in self.filters:  # FilterEnsemble.apply (api/filter.py), on this document alone
            resps: Any = [["" if prediction is None else str(prediction)]]
            for step in f.filters:
                resps = step.apply(resps, [doc])
            resps = list(resps)
            out[f.name] = self._process(doc, [resps[0]])
        return out

    def _headline(self) -> tuple[str, str]:
        """(metric, filter) of the headline: ``metric=`` if given, else the first metric of
        the task's ``metric_list`` that ``process_results`` reports for every document (MMStar
        reports its ``average`` for all, a category only for its own), judged on up to
        ``PROBE`` documents spread over the split (the keys do not depend on the answer)."""
        if self._headline_metric is None:
            self._headline_metric = self.metric or self._probe()
        return self._headline_metric, self.filters[0].name

    def _probe(self) -> str:
        from cvb_tasks import spread

        docs = self.task.eval_docs_no_media
        everywhere = set(self.metrics)
        for i in spread([[i] for i in range(len(docs))], PROBE):
            doc = dict(docs[i])
            try:
                if self.output_type == "multiple_choice":
                    n = len(self.task.doc_to_choice(doc))
                    keys = self._process(doc, [(0.0 if j == 0 else 1.0, j == 0) for j in range(n)])
                else:
                    keys = self._process(doc, [""])
            except Exception:  # noqa: BLE001 - a document the probe cannot score tells nothing
                continue
            everywhere &= set(keys)
        return next((m for m in self.metrics if m in everywhere), self.metrics[0])

    def verdict_of(self, value: Any) -> float | None:
        if isinstance(value, dict):
            value = value.get(self.score_key)
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 1:
            return float(value)
        return None

    def judge(self, sample: Sample, prediction: str) -> float | None:
        metric, name = self._headline()
        value = self.results(sample, prediction).get(name, {}).get(metric)
        verdict = self.verdict_of(value)
        if verdict is None and value is not None:  # the aggregation of this one document
            try:
                verdict = self.verdict_of(self._aggregate(metric, [value]))
            except Exception:  # noqa: BLE001 - no per-document verdict, only a whole-set score
                verdict = None
        return verdict

    # ---- per cell ------------------------------------------------------------------------
    def _aggregate(self, metric: str, items: list) -> Any:
        fn = self.task.aggregation()[metric]
        with seeded():
            if "args" in inspect.signature(fn).parameters:  # evaluator_utils.py:120-121
                with tempfile.TemporaryDirectory(prefix="cvb-lmms-") as out:  # submission files
                    return fn(items, args=SimpleNamespace(output_path=out, log_samples=False, verbosity="ERROR"))
            return fn(items)

    def scorer(self) -> Tally:
        """A tally of each answer's ``process_results`` (pickled: the values lmms-eval would
        collect) and whether it is missing."""
        return Tally(lambda s, pred, _ref: (pickle.dumps(self.results(s, pred), protocol=4), pred is None),
                     self._finish)

    def _finish(self, counts: Counter) -> TaskScore:
        items: dict[tuple[str, str], list] = {}
        for (blob, _missing), k in counts.items():
            for fname, metrics in pickle.loads(blob).items():
                for metric, value in metrics.items():
                    items.setdefault((metric, fname), []).extend([value] * k)
        several = len(self.filters) > 1
        details: dict[str, float] = {}
        headline: tuple[str, float] | None = None
        first = self._headline()[0]
        order = [(m, f.name) for f in self.filters for m in [first] + [m for m in self.metrics if m != first]]
        for metric, fname in order:
            got = items.get((metric, fname))
            if got is None or metric not in self.task.aggregation():
                continue
            name = f"{metric},{fname}" if several else metric
            value = self._aggregate(metric, got)
            for key, number in _numbers(name, value):
                details[key] = number
                if headline is None and key == name:
                    headline = (name, number)
        details["questions"] = float(sum(counts.values()))
        details["missing"] = float(sum(k for (_b, miss), k in counts.items() if miss))
        if headline is None:
            return TaskScore(value=float("nan"), metric=order[0][0], details=details)
        name, value = headline
        higher = bool(self.task.higher_is_better().get(name.split(",")[0], True))
        return TaskScore(value=value, metric=name, details=details, higher_is_better=higher,
                         accuracy_scale=self._scale(*self._headline(), items.get(self._headline())))

    def _scale(self, metric: str, _filter: str, items: list | None) -> float | None:
        """1 where the headline is a plain accuracy by its rule: aggregated by lmms-eval's own
        ``mean`` over per-document values that are all 0 or 1 (``cvb report`` then gives the
        Wilson interval); None otherwise (bootstrapped). Declared from the rule, never from a
        value that happens to equal a mean (an all-zero F1 is no accuracy)."""
        from lmms_eval.api.metrics import mean

        if not items or self.task.aggregation().get(metric) is not mean:
            return None
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v not in (0, 1) for v in items):
            return None
        return 1.0


@contextlib.contextmanager
def seeded():
    """Python's and numpy's random state seeded as lmms-eval seeds a run (random 0, numpy 1234:
    evaluator.py's defaults), then restored: a rule that draws (MMMU picks a random option for
    an answer it cannot parse) gives each document the same draw every time it is scored, so a
    verdict is a pure function of the answer. lmms-eval draws once per run in document order
    (and across threads), so its draw for a document can differ from this one."""
    import random

    import numpy as np

    state, np_state = random.getstate(), np.random.get_state()
    random.seed(0)
    np.random.seed(1234)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # MMMU prints its tables: not on cvb's stdout
            yield
    finally:
        random.setstate(state)
        np.random.set_state(np_state)


def _numbers(name: str, value: Any):
    """(key, number) of an aggregate: itself, or the numbers of a dict it returns."""
    if isinstance(value, bool):
        yield name, float(value)
    elif isinstance(value, (int, float)):
        yield name, float(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                yield f"{name}/{k}", float(v)


def _choice_index(sample: Sample, prediction: str | None) -> int:
    """The choice a letter (or a choice's text) names; the first where it names none (all
    choices then tie, and lmms-eval's argmin takes the first)."""
    text = "" if prediction is None else str(prediction).strip()
    letters = [chr(ord("A") + j) for j in range(len(sample.options))]
    head = text[:1].upper()
    if head in letters and (len(text) == 1 or not text[1:2].isalnum()):
        return letters.index(head)
    if text in sample.options:
        return list(sample.options).index(text)
    return 0
