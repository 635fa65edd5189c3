"""``lmms-eval:NAME[:PATH]``: one lmms-eval task, its documents asked through cvb's codecs.

For each document of the task's evaluation split (``test_split``, else ``validation_split``):

- every image ``doc_to_visual`` returns becomes an image of the sample (the first ``image``,
  the rest ``more_images``): the dataset's own file where cvb decodes it to exactly those pixels,
  else a lossless PNG of them, so the uncompressed reference cell sees exactly the pixels
  lmms-eval's model would; each is compressed with the cell's codec and level;
- the prompt is lmms-eval's zero-shot context (``fewshot_context(doc, 0)``: the task's
  description, if any, then ``doc_to_text`` with the ``lmms_eval_specific_kwargs`` of the chosen
  model family, ``default`` unless ``model=`` names another), sent verbatim;
- generation follows the task's ``generation_kwargs`` (``max_new_tokens``, ``until``); cvb's
  VLMs decode greedily;
- the verdict and the aggregate come from the task's filters, ``process_results`` and
  aggregation functions (:mod:`cvb_lmms.scoring`).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from cvb.errors import UsageError
from cvb.scoring.tally import score_whole
from cvb.types import AnswerKind, ImageSource, Sample, TaskScore

from . import upstream
from .catalogue import BY_LOGITS, GENERATE
from .scoring import Scoring

#: a yaml without ``max_new_tokens`` leaves it to lmms-eval's model wrapper; cvb uses 1024, the
#: default of its llava_hf and openai wrappers (as protocol=lmms-eval does)
WRAPPER_MAX_NEW_TOKENS = 1024


def split_arg(arg: str | None, path: str | None) -> tuple[str, str | None]:
    """``NAME[:PATH]`` -> (name, path); ``path=`` may give the path instead."""
    if not arg:
        raise UsageError("lmms-eval needs a task name: --task lmms-eval:NAME[:PATH] "
                         "(`cvb list tasks --source lmms-eval` lists them)")
    name, sep, rest = arg.partition(":")
    if sep and rest:
        if path not in (None, "", rest):
            raise UsageError(f"lmms-eval:{name}: local copy given twice ({rest!r} and path={path!r})")
        path = rest
    return name.strip(), (path or None)


class LmmsEvalTask:
    """An lmms-eval task by name; ``path``: a local copy of its dataset (offline)."""

    def __init__(self, arg: str | None = None, *, path: str | None = None, model: str | None = None,
                 metric: str | None = None):
        self.task_name, path = split_arg(arg, path)
        self.name = f"lmms-eval:{self.task_name}"
        self.model = model or None
        self._refuse_unsupported()
        self.config = upstream.full_config(self.task_name)
        self.output_type = str(self.config.get("output_type") or "generate_until")
        if self.output_type not in GENERATE + BY_LOGITS:
            raise UsageError(f"{self.name}: output_type {self.output_type!r} is not supported (cvb asks one "
                             f"question per document and reads generated text, or a choice from logits for "
                             f"multiple_choice)")
        local = Path(path).expanduser() if path else _default_local(self.config.get("dataset_path"))
        self.path = str(local) if local else None
        self.upstream = upstream.build(self.task_name, self.config, self.model, local)
        self.version = (f"lmms-eval {upstream.installed_version()} {self.task_name} "
                        f"config {upstream.config_hash(self.task_name, self.config)}"
                        + (f" model={self.model}" if self.model else ""))
        self._encoded: Any = None  # the split with its images undecoded (``_encoded_cells``)
        self.rules = Scoring(self.upstream, self.output_type, metric or None)
        #: the scoring's identity (rescoring stored answers with another headline asks nothing)
        self.scoring = f"lmms-eval {upstream.installed_version()}" + (f" metric={metric}" if metric else "")

    def _refuse_unsupported(self) -> None:
        """Refuse, before any data is loaded, what ``cvb list tasks --source lmms-eval`` lists as
        unsupported: video, audio and text tasks, and tasks scored by a judge model."""
        from .catalogue import judged, load_simple, media_kind

        found = upstream.entry(self.task_name)
        if found.get("type") != "task":
            return  # full_config names what it is
        yaml_path = Path(found["yaml_path"])
        simple = load_simple(str(yaml_path))
        kind = media_kind(simple, yaml_path.parent)
        if kind != "image":
            raise UsageError(f"{self.name} is a {kind} task; the bridge runs image tasks (cvb compresses images)")
        judge = judged(simple, yaml_path.parent)
        if judge:
            raise UsageError(f"{self.name} is scored by a judge model ({judge} in its task code); the bridge "
                             f"runs tasks lmms-eval scores by rule")

    # ---- samples -------------------------------------------------------------------------
    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        """The documents in lmms-eval's order; ``limit``: the first ones, as lmms-eval's ``--limit``."""
        docs = self.upstream.eval_docs
        plain = self.upstream.eval_docs_no_media
        if limit is not None and limit < 1:
            raise UsageError(f"limit must be at least 1, got {limit}")
        textual = 0
        for i in range(len(docs) if limit is None else min(limit, len(docs))):
            sample = self._sample(i, docs[i], plain[i])
            if sample is None:
                textual += 1
                continue
            yield sample
        if textual:  # ScienceQA-FULL: some questions have no picture; nothing to compress there
            warnings.warn(f"{self.name}: {textual} document(s) without an image left out (lmms-eval's own "
                          f"score counts them)", stacklevel=2)

    def _sample(self, i: int, doc: Mapping[str, Any], plain: Mapping[str, Any]) -> Sample | None:
        t = self.upstream
        visuals = t.doc_to_visual(doc) or []
        cells = _decoded(self._encoded_cells(i)) if visuals else []
        images = [_image_source(self.name, i, n, v, cells) for n, v in enumerate(visuals)]
        if not images:
            return None
        prompt = t.fewshot_context(doc, 0)
        if not isinstance(prompt, str):
            raise ValueError(f"{self.name}: document {i}: the context is {type(prompt).__name__}, not one prompt")
        gen = dict(t.config.generation_kwargs or {})
        until = gen.get("until")
        stop = tuple(str(u) for u in ([until] if isinstance(until, str) else until or []) if str(u))
        meta: dict[str, Any] = {"doc": dict(plain), "doc_id": i}
        kind = AnswerKind.OPEN
        options: tuple[str, ...] = ()
        if self.output_type in BY_LOGITS:
            # lmms-eval scores each choice's likelihood as a continuation of the context; cvb lists
            # the choices after it and reads the best letter from one forward pass's logits
            kind, options = AnswerKind.CHOICE, tuple(str(c) for c in t.doc_to_choice(doc))
            meta.update(answer_by="logits", max_new_tokens=1)
        else:
            meta.update(prompt=prompt, max_new_tokens=int(gen.get("max_new_tokens") or WRAPPER_MAX_NEW_TOKENS),
                        stop=stop)
        target = t.doc_to_target(doc)
        return Sample(id=str(i), image=images[0], more_images=tuple(images[1:]), question=prompt, kind=kind,
                      answer=target if isinstance(target, (str, int, float, list)) else str(target),
                      options=options, meta=meta)

    def _encoded_cells(self, i: int) -> list[bytes]:
        """The encoded bytes of every image cell of document ``i`` (the dataset's own files)."""
        import datasets

        if self._encoded is None:
            docs = self.upstream.eval_docs
            raw = {}
            for column, feature in docs.features.items():
                if isinstance(feature, datasets.Image):
                    raw[column] = datasets.Image(decode=False)
                elif isinstance(getattr(feature, "feature", None), datasets.Image):
                    raw[column] = type(feature)(datasets.Image(decode=False))
            self._encoded = docs.select_columns(list(raw)).cast(datasets.Features(raw)) if raw else False
        if self._encoded is False:
            return []
        out = []
        for value in self._encoded[i].values():
            for cell in value if isinstance(value, list) else [value]:
                if isinstance(cell, dict) and cell.get("bytes"):
                    out.append(cell["bytes"])
        return out

    # ---- scoring -------------------------------------------------------------------------
    def judge(self, sample: Sample, prediction: str) -> float | None:
        return self.rules.judge(sample, prediction)

    def results(self, sample: Sample, prediction: str | None) -> dict:
        """lmms-eval's ``process_results`` for this sample's prediction (after the filters)."""
        return self.rules.results(sample, prediction)

    def scorer(self):
        return self.rules.scorer()

    def score(self, samples: Sequence[Sample], predictions: Mapping[str, str],
              reference: Mapping[str, str] | None = None) -> TaskScore:
        return score_whole(self.scorer(), samples, predictions)


def _default_local(dataset_path: Any) -> Path | None:
    from cvb_tasks import default_path

    return default_path(str(dataset_path)) if dataset_path else None


def _decoded(cells: Sequence[bytes]) -> list[tuple[bytes, Any]]:
    """(encoded bytes, cvb's decoding of them) of a document's image cells (unreadable ones left out)."""
    from cvb.errors import ImageLoadError
    from cvb.imageio import decode_image

    out = []
    for data in cells:
        try:
            out.append((data, decode_image(data)))
        except ImageLoadError:
            continue
    return out


def _image_source(task: str, doc: int, n: int, visual: Any, cells: Sequence[tuple[bytes, Any]] = ()) -> ImageSource:
    """One visual as cvb reads it: the dataset's own encoded file where cvb decodes that to
    exactly ``doc_to_visual``'s pixels (the common ``doc["image"].convert("RGB")``: no re-encoding,
    and the compressions are shared with any task that reads the same file), else a lossless PNG
    of the visual. Keyed by a hash of the bytes (documents that share a picture share it)."""
    import numpy as np
    from PIL import Image

    if not isinstance(visual, Image.Image):
        kind = "a video or audio path" if isinstance(visual, str) else type(visual).__name__
        raise ValueError(f"{task}: document {doc}: doc_to_visual returned {kind}; the bridge compresses images only")
    rgb = visual.convert("RGB")
    pixels = None
    for data, decoded in cells:
        if decoded.size == rgb.size:
            pixels = np.asarray(rgb) if pixels is None else pixels
            if np.array_equal(np.asarray(decoded), pixels):
                return ImageSource(key=hashlib.sha256(data).hexdigest()[:20], data=data)
    buf = io.BytesIO()
    rgb.save(buf, format="PNG", compress_level=1)
    data = buf.getvalue()
    return ImageSource(key=hashlib.sha256(data).hexdigest()[:20], data=data)
