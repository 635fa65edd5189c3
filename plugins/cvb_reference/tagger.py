"""``imagenet-tagger``: answers object questions from an ImageNet classifier's top classes.

A lightweight *reference model*, not a VLM: it understands no language beyond the question
shapes in ``questions.py``. Per image it computes EfficientNet-Lite0's class probabilities
(``classifier.py``); per question it turns the asked object into a relevance weight over the
1000 classes and sums probability x relevance over the top-k classes:

    evidence(object) = sum over the k most probable classes c of  p(c) * w(object, c)

``w`` is, in order of preference:

1. 1 for the classes a hand-written group lists for the object (``groups.py``: "cat" -> tabby,
   tiger cat, Persian, Siamese, Egyptian cat), 0 elsewhere;
2. 1 for the class the object names exactly ("space shuttle");
3. the group of the nearest group name by all-MiniLM-L6-v2 embedding, if its cosine
   similarity is at least ``GROUP_SIM`` ("kitten" -> cat);
4. a ramp on the cosine similarity of the object phrase and each class name: 0 below
   ``SIM_LO``, 1 above ``SIM_HI``, linear between.

The embedder loads only for objects that reach step 3. Yes/no: "yes" when evidence >= ``threshold``.
Multiple choice: the option with the most evidence (ties and all-zero: the option whose phrase
is most similar to the probability-weighted top classes). Open questions: the top class name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from cvb.options import as_float, as_int, reject_unknown
from cvb.prompts import option_letters
from cvb.types import Answer, AnswerKind, Query

from . import deps
from .base import ImageCache, answer_each, per_image
from .classifier import VIEWS, ImageNetClassifier
from .embedder import PhraseEmbedder
from .groups import GROUPS, canonical, members
from .groups import digest as groups_digest
from .imagenet import class_names, index_of_lowercase
from .questions import object_phrase
from .threads import DEFAULT_THREADS

if TYPE_CHECKING:
    import numpy as np

#: cosine similarity below which a class name is unrelated to the object, and above which it
#: names it (all-MiniLM-L6-v2 puts "rocket"/"missile" at 0.68, "cup"/"coffee mug" at 0.69,
#: but also unrelated pairs like "dog"/"hotdog" at 0.61: hence the hand-written groups first)
SIM_LO, SIM_HI = 0.55, 0.75
#: an object phrase this similar to a group name is read as that group ("kitten" -> cat)
GROUP_SIM = 0.80
DEFAULT_TOP_K = 5
DEFAULT_THRESHOLD = 0.10
ALGORITHM = "2"  # bump when the answering rule changes: it is part of ``version``


@dataclass(frozen=True)
class Relevance:
    weights: "np.ndarray"  # (1000,) in [0, 1]
    source: str  # "group:cat", "embedding", "group:kite (no ImageNet class)"


class ImageNetTagger:
    """VLM-protocol wrapper; construction is cheap, weights load on the first answer."""

    name = "imagenet-tagger"

    def __init__(self, top_k: int | str = DEFAULT_TOP_K, threshold: float | str = DEFAULT_THRESHOLD,
                 batch_size: int | str = 16, device: str = "cpu",
                 threads: int | str = DEFAULT_THREADS, **unknown: Any):
        reject_unknown(self.name, unknown, ("top_k", "threshold", "batch_size", "device", "threads"))
        self.top_k = as_int(self.name, "top_k", top_k, 1, 1000)
        self.threshold = as_float(self.name, "threshold", threshold, 0.0)
        self.batch_size = as_int(self.name, "batch_size", batch_size, 1)
        self.device = str(device)
        self.threads = as_int(self.name, "threads", threads, 0)
        self.version = (f"{self.name}/{ALGORITHM} efficientnet-lite0 views={'+'.join(VIEWS)} "
                        f"top_k={self.top_k} threshold={self.threshold:g} "
                        f"sim={SIM_LO:g}-{SIM_HI:g} groups={groups_digest()} [{deps.versions(*deps.TAGGER_MODULES)}]")
        self.classifier = ImageNetClassifier(device=self.device, threads=self.threads)
        self.embedder = PhraseEmbedder(device=self.device, threads=self.threads)
        self._probs: ImageCache["np.ndarray"] = ImageCache(64)
        self._relevance: dict[str, Relevance] = {}
        self._group_names: list[str] | None = None

    # ---- the VLM protocol --------------------------------------------------------------
    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        deps.require(*deps.TAGGER_MODULES)
        probs = per_image(queries, self._probs, lambda imgs: list(self.classifier.probabilities(imgs)))

        def one(i: int, q: Query) -> Answer:
            got = probs[i]
            if isinstance(got, BaseException):
                raise got
            return self.answer_from(q, got)

        return answer_each(queries, one)

    def adapter_base(self, device: str, dtype: str) -> Any:
        """The adapter seam (``cvb adapt --vlm imagenet-tagger``): the network in the shape
        ``cvb_hf.vision`` reads, see ``tagger_vision``."""
        from .tagger_vision import TaggerAdapterBase

        return TaggerAdapterBase(device=device, dtype=dtype)

    def close(self) -> None:
        self.classifier.close()
        self.embedder.close()
        self._probs.clear()

    # ---- answering from probabilities ------------------------------------------------------
    def answer_from(self, query: Query, probs: "np.ndarray") -> Answer:
        top = self.top_classes(probs)
        meta: dict[str, Any] = {"model": self.name,
                                "top": [[class_names()[i], round(float(p), 4)] for i, p in top]}
        if query.kind == AnswerKind.YESNO:
            phrase = object_phrase(query.prompt)
            if not phrase:
                return Answer(text="no", meta={**meta, "object": ""})
            ev, source = self.evidence(phrase, top)
            yes = ev >= self.threshold
            return Answer(text="yes" if yes else "no",
                          meta={**meta, "object": phrase, "evidence": round(ev, 4), "match": source})
        if query.kind == AnswerKind.CHOICE and query.options:
            idx, scores = self.choose(query.options, top)
            return Answer(text=option_letters(len(query.options))[idx],
                          meta={**meta, "scores": [round(s, 4) for s in scores]})
        name = class_names()[top[0][0]]
        if query.kind == AnswerKind.CAPTION:
            article = "an" if name[:1].lower() in "aeiou" else "a"
            return Answer(text=f"a photo of {article} {name}", meta=meta)
        return Answer(text=name, meta=meta)

    def top_classes(self, probs: "np.ndarray") -> list[tuple[int, float]]:
        import numpy as np

        idx = np.argsort(-probs)[: self.top_k]
        return [(int(i), float(probs[i])) for i in idx]

    def evidence(self, phrase: str, top: list[tuple[int, float]]) -> tuple[float, str]:
        rel = self.relevance(phrase)
        return sum(p * float(rel.weights[i]) for i, p in top), rel.source

    def relevance(self, phrase: str) -> Relevance:
        """How much each ImageNet class implies ``phrase`` (memoised per phrase)."""
        import numpy as np

        phrase = " ".join(phrase.lower().split())
        if phrase in self._relevance:
            return self._relevance[phrase]
        key = canonical(phrase)
        exact = _class_named(phrase)
        if key is None and exact is not None:  # an ImageNet class name: "space shuttle"
            weights = np.zeros(len(class_names()), dtype=np.float32)
            weights[exact] = 1.0
            rel = Relevance(weights=weights, source="class")
            self._relevance[phrase] = rel
            return rel
        if key is None:
            key = self._nearest_group(phrase)
        if key is not None:
            weights = np.zeros(len(class_names()), dtype=np.float32)
            weights[list(members(key))] = 1.0
            source = f"group:{key}" if GROUPS[key] else f"group:{key} (no ImageNet class)"
        else:
            sims = self.embedder.similarity_to_classes(phrase)
            weights = np.clip((sims - SIM_LO) / (SIM_HI - SIM_LO), 0.0, 1.0).astype(np.float32)
            source = "embedding"
        rel = Relevance(weights=weights, source=source)
        self._relevance[phrase] = rel
        return rel

    def _nearest_group(self, phrase: str) -> str | None:
        """The group whose name the phrase is a near-synonym of, by embedding, or None."""
        if self._group_names is None:
            self._group_names = sorted(GROUPS)
        sims = self.embedder.embed(self._group_names) @ self.embedder.embed([phrase])[0]
        best = int(sims.argmax())
        return self._group_names[best] if sims[best] >= GROUP_SIM else None

    def choose(self, options: Sequence[str], top: list[tuple[int, float]]) -> tuple[int, list[float]]:
        """Index of the option with the most evidence; embedding similarity breaks ties."""
        scores = [self.evidence(object_of_option(o), top)[0] for o in options]
        best = max(scores)
        tied = [i for i, s in enumerate(scores) if s == best]
        if len(tied) == 1:
            return tied[0], scores
        # tie (typically all zero): similarity of each option to the weighted top classes
        names = [class_names()[i] for i, _ in top]
        weights = [p for _, p in top]
        cls = self.embedder.embed(names)
        opts = self.embedder.embed([object_of_option(options[i]) for i in tied])
        soft = (opts @ cls.T) @ weights
        return tied[int(soft.argmax())], scores


def _class_named(phrase: str) -> int | None:
    """The ImageNet class whose name is ``phrase`` (case-insensitive, plural allowed), or None."""
    from .groups import singular

    lowered = index_of_lowercase()
    words = phrase.split()
    for candidate in (phrase, " ".join(words[:-1] + [singular(words[-1])]) if words else ""):
        if candidate in lowered:
            return lowered[candidate]
    return None


def object_of_option(option: str) -> str:
    text = " ".join(option.lower().strip(" .").split())
    for article in ("a ", "an ", "the ", "some "):
        if text.startswith(article):
            return text[len(article):]
    return text
