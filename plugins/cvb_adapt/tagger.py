"""``adapted:PATH`` for an adapter trained on the reference tagger (``imagenet-tagger``), and
``adapted-base:PATH``, the tagger under the same preprocessing without the adapter.

The tagger with its EfficientNet-Lite0 carrying the adapter: the trained tensors and the
condition embedding (added after the stem) go into the network the tagger answers with, and
every image gets the condition of the codec and level its query records, under the same
fallbacks as a transformers VLM's adapter (``vocabulary.Resolver``). Answers are read from the
adapted class probabilities by the tagger's own rules; ``meta["condition"]`` says which
condition each used. Probabilities are cached per (image content, condition).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

from cvb.errors import UsageError
from cvb.types import Answer, Query
from cvb_reference import TAGGER_MODULES, ImageCache, ImageNetTagger, answer_each, per_image, require

from . import artifact


class AdaptedTagger(ImageNetTagger):
    """An adapter folder (``cvb adapt --vlm imagenet-tagger --out PATH``) on the tagger."""

    def __init__(self, adapter: str, *, condition_map: str | None = None, unseen_level: str = "nearest",
                 unseen_codec: str = "unconditional", name: str | None = None, base: str | None = None,
                 use_adapter: bool = True, **options: Any):
        owner = f"{'adapted' if use_adapter else 'adapted-base'}:{adapter}"
        self.use_adapter = use_adapter
        if not use_adapter and (condition_map or unseen_level != "nearest" or unseen_codec != "unconditional"):
            raise UsageError(f"{owner}: the base alone has no condition (condition_map, unseen_level and "
                             f"unseen_codec are options of adapted:{adapter})")
        if base is not None:
            raise UsageError(f"{owner}: option base is for transformers models; the tagger's weights come "
                             f"from its pip package")
        self.adapter_dir = Path(adapter).expanduser()
        self.manifest = artifact.read_manifest(self.adapter_dir)
        super().__init__(**options)
        self.name = name or owner
        from .vlm import take_adapter_identity

        take_adapter_identity(self, owner, condition_map, unseen_level, unseen_codec, use_adapter)
        self._by_class: dict[int, ImageCache] = {}
        self._adapted = None  # the network the adapter was applied to
        self.conditioner = None

    def _network(self):
        """The classifier's network, its base checked, with the adapter applied (once per load)."""
        from .vlm import apply, check_base

        model = self.classifier.load()
        if self._adapted is not model:
            check_base(model, self.adapter_dir, self.manifest)
            self.conditioner = apply(model, self.adapter_dir, self.manifest) if self.use_adapter else None
            self._adapted = model
        return model

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        from .data import fit

        require(*TAGGER_MODULES)
        queries = list(queries)
        self._network()
        resolved: list[tuple[int, str] | UsageError] = []
        for q in queries:
            try:
                resolved.append(self.resolver.resolve(q.codec, q.level) if self.use_adapter else (-1, ""))
            except UsageError as exc:
                resolved.append(exc)
        probs: dict[int, Any] = {}
        for cls in sorted({r[0] for r in resolved if not isinstance(r, UsageError)}):
            idx = [i for i, r in enumerate(resolved) if not isinstance(r, UsageError) and r[0] == cls]

            def before(model, n: int, cls: int = cls) -> None:
                if self.conditioner is not None:
                    self.conditioner.set([cls] * n, [len(model.views)] * n)

            cache = self._by_class.setdefault(cls, ImageCache(64))
            got = per_image([queries[i] for i in idx], cache, lambda imgs, before=before: list(
                self.classifier.probabilities([fit(im, self.resolution) for im in imgs], before=before)))
            probs.update({idx[k]: v for k, v in got.items()})

        def one(i: int, q: Query) -> Answer:
            condition, got = resolved[i], probs[i]
            if isinstance(condition, UsageError):
                raise condition
            if isinstance(got, BaseException):
                raise got
            a = self.answer_from(q, got)
            return dataclasses.replace(a, meta={**a.meta, "condition": condition[1]}) if self.use_adapter else a

        return answer_each(queries, one)

    def close(self) -> None:
        super().close()
        self._by_class.clear()
        self._adapted = self.conditioner = None


def create(adapter: str, **options: Any) -> AdaptedTagger:
    return AdaptedTagger(adapter, **options)
