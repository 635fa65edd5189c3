"""``adapted:PATH``: the base VLM an adapter was trained on, with its conditional encoder;
``adapted-base:PATH``: the same base model under the same preprocessing, without the adapter.

An ``HFVLM`` of the adapter's base model whose vision side gets the trained tensors and the
condition embedding at load time. Every query's condition comes from the codec and level the
runner recorded on it (``Query.codec``/``Query.level``), image by image inside a batch; unseen
codecs, unseen levels and the uncompressed reference follow the documented fallbacks
(``vocabulary.Resolver``), and each answer's ``meta["condition"]`` says which class it used (the
store keeps it with the answer).

Preprocessing is the adapter's: the image processor's settings it was trained with (min/max
pixels, image backend) and, for an adapter trained at a fixed ``--resolution``, a resize to it
before the processor. ``adapted-base:PATH`` applies exactly that preprocessing to the plain base
model, so the gap decomposition compares like with like: an adapter that changes nothing scores
exactly as its ``adapted-base``, cell for cell.

The version is the base model's, then ``resize=WxH`` where the adapter resizes, then
``adapter=<sha256 prefix>`` (``adapter=off`` for ``adapted-base``) and the fallback settings. So
everything before ``adapter=`` is the base model and its preprocessing: ``cvb report --adapted``
compares that part of the two VLMs' versions and refuses a pair where it differs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

from cvb.errors import UnavailableError, UsageError
from cvb.options import as_choice
from cvb.types import Answer, Query
from cvb_hf import HFVLM, OPTIONS as HF_OPTIONS

from . import artifact
from .vocabulary import UNSEEN_CODEC, UNSEEN_LEVEL, Resolver, Vocabulary, parse_condition_map

OPTIONS = {
    **{k: v for k, v in HF_OPTIONS.items() if k not in ("min_pixels", "max_pixels", "revision")},
    "base": "load the base model from here instead of the id/path the adapter recorded (its vision "
            "weights must match the recorded fingerprint)",
    "condition_map": "unseen codecs or cells to treat as trained ones: SRC:DST, SRC:DST/LEVEL or "
                     "SRC/LEVEL:DST[/LEVEL], comma-separated (e.g. x265:jpeg,none:jpeg/6); 'none' is the "
                     "uncompressed reference",
    "unseen_level": "a trained codec at an untrained level: nearest (trained level nearest in rate, "
                    "default) or unconditional",
    "unseen_codec": "an untrained, unmapped codec (and the reference): unconditional (default) or error",
}


#: ``adapted-base:PATH`` takes these (no condition: the fallbacks mean nothing there)
BASE_OPTIONS = {k: v for k, v in OPTIONS.items() if k not in ("condition_map", "unseen_level", "unseen_codec")}


class AdaptedVLM(HFVLM):
    """An adapter folder (``cvb adapt --out``) on its base model; ``use_adapter=False``: the base
    model alone under the adapter's preprocessing (``adapted-base:PATH``)."""

    max_images = 1  # trained and resized for one image per question

    def __init__(self, adapter: str, *, base: str | None = None, condition_map: str | None = None,
                 unseen_level: str = "nearest", unseen_codec: str = "unconditional",
                 name: str | None = None, use_adapter: bool = True, **options: Any):
        owner = f"{'adapted' if use_adapter else 'adapted-base'}:{adapter}"
        self.use_adapter = use_adapter
        for key in ("min_pixels", "max_pixels", "revision"):
            if key in options:
                raise UsageError(f"{owner}: option {key} is fixed by the adapter (it was trained with it)")
        self.adapter_dir = Path(adapter).expanduser()
        self.manifest = artifact.read_manifest(self.adapter_dir)
        recorded = self.manifest["base"]
        pixels = self.manifest.get("processor", {})
        if options.get("image_backend", "auto") == "auto" and pixels.get("image_backend"):
            # the pixels it was trained on (adapters from before cvb recorded it: transformers' choice)
            options["image_backend"] = pixels["image_backend"]
        super().__init__(base or recorded["source"], name=name or owner, revision=recorded.get("revision"),
                         min_pixels=pixels.get("min_pixels"), max_pixels=pixels.get("max_pixels"), **options)
        take_adapter_identity(self, owner, condition_map, unseen_level, unseen_codec, use_adapter)
        self.conditioner = None

    def __repr__(self) -> str:
        return f"<AdaptedVLM {self.name} {self.version} ({'loaded' if self.model is not None else 'not loaded'})>"

    # ---- loading -----------------------------------------------------------------------------
    def load(self) -> None:
        if self.model is not None:
            return
        super().load()
        try:
            check_base(self.model, self.adapter_dir, self.manifest)
            if self.use_adapter:
                self.conditioner = apply(self.model, self.adapter_dir, self.manifest)
        except BaseException:
            self.close()
            raise

    # ---- answering ---------------------------------------------------------------------------
    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        queries = list(queries)
        answers = super().answer(queries)
        if not self.use_adapter:
            return answers
        out = []
        for q, a in zip(queries, answers):
            try:
                how = self.resolver.resolve(q.codec, q.level)[1]
            except UsageError as exc:
                out.append(Answer("", error=str(exc)))
                continue
            out.append(dataclasses.replace(a, meta={**a.meta, "condition": how}))
        return out

    def model_images(self, queries: Sequence[Query]):
        """At the training resolution (the paper's train/eval mismatch is not repeated)."""
        from cvb_adapt.data import fit

        return [im if im is None else fit(im, self.resolution) for im in super().model_images(queries)]

    def encode(self, queries: Sequence[Query], prompts: Sequence[str]):
        classes = [self._class(q) for q in queries]
        enc = super().encode(queries, prompts)  # the condition is set here, never ahead of time
        if self.conditioner is not None:
            from cvb_hf import crops_per_image

            self.conditioner.set(classes, image_token_counts(self.model, enc), crops_per_image(enc))
        return enc

    def visual_tokens(self, images, conditions: Sequence[tuple[str | None, str | None]] | None = None):
        """The adapted encoder's tokens; ``conditions`` gives each image's (codec, level)."""
        from cvb_adapt.data import fit

        from cvb_hf import crops_per_image, features, image_inputs

        self.load()
        conditions = list(conditions or [(None, None)] * len(images))
        images = [fit(im, self.resolution) for im in images]
        inputs = image_inputs(self.processor, images, self.device, self.model.dtype)
        if self.conditioner is not None:
            import torch

            with torch.no_grad():  # token counts per image, from the unconditional pass
                self.conditioner.set([-1] * len(images), [1] * len(images))
                counts = [t.shape[0] for t in features(self.model, inputs, len(images))]
            self.conditioner.set([self.resolver.resolve(c, lv)[0] for c, lv in conditions], counts,
                                 crops_per_image(inputs))
        return features(self.model, inputs, len(images))

    def _class(self, query: Query) -> int:
        try:
            return self.resolver.resolve(query.codec, query.level)[0]
        except UsageError:
            return -1  # answered without a condition, then marked failed in ``answer``


def image_token_counts(model, enc) -> list[int]:
    """Visual tokens per query (one image each): image-token positions in each prompt row."""
    config = model.config
    token = getattr(config, "image_token_id", None)
    if token is None:
        token = getattr(config, "image_token_index", None)
    if token is None:
        raise UnavailableError(f"{type(model).__name__}: no image_token_id in its config; cvb cannot tell "
                               f"which visual tokens belong to which image")
    return [int(n) for n in (enc["input_ids"] == token).sum(dim=1).tolist()]


def check_base(model, folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse a loaded model whose vision weights are not the ones the adapter was trained on."""
    recorded = manifest["base"]
    found = artifact.vision_fingerprint(artifact.base_modules(model))
    if found != recorded["vision_fingerprint"]:
        raise UnavailableError(
            f"adapter {folder} was trained on {recorded['source']} ({recorded.get('architecture')}, vision "
            f"weights {recorded['vision_fingerprint'][:12]}); the model loaded has vision weights {found[:12]}: "
            f"another model. Use the adapter with the model it was trained on")


def apply(model, folder: Path, manifest: dict[str, Any]):
    """Put the adapter's structure and tensors into ``model`` (checked with ``check_base``)."""
    from .student import Student, parse_train

    vocab = Vocabulary.from_json(manifest["vocabulary"])
    student = Student(model, vocab.size, parse_train(manifest["train"]["what"]),
                      manifest["condition"].get("placement", "embedding"))
    tensors = artifact.load_weights(folder, manifest)
    params = dict(model.named_parameters())
    missing = sorted(set(tensors) - set(params))
    if missing:
        raise UsageError(f"adapter {folder}: {len(missing)} tensor(s) have no place in the model, e.g. {missing[0]}")
    import torch

    with torch.no_grad():
        for name, value in tensors.items():
            params[name].copy_(value.to(params[name].device, params[name].dtype))
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    return student.conditioner


def take_adapter_identity(vlm, owner: str, condition_map: str | None, unseen_level: str,
                          unseen_codec: str, use_adapter: bool) -> None:
    """What an adapted VLM (transformers or tagger) takes from its manifest and options: the
    condition vocabulary and resolver, the training resolution, and the version suffix that
    names the preprocessing, the adapter (or ``adapter=off``) and the non-default fallbacks."""
    vlm.vocab = Vocabulary.from_json(vlm.manifest["vocabulary"])
    vlm.resolver = Resolver(vlm.vocab, parse_condition_map(condition_map),
                            as_choice(owner, "unseen_level", unseen_level, UNSEEN_LEVEL),
                            as_choice(owner, "unseen_codec", unseen_codec, UNSEEN_CODEC), _codec_rank)
    res = vlm.manifest.get("resolution", "native")
    vlm.resolution = None if res == "native" else tuple(int(v) for v in res)
    extra = [f"resize={vlm.resolution[0]}x{vlm.resolution[1]}"] if vlm.resolution else []
    extra.append(f"adapter={vlm.manifest['weights']['sha256'][:16]}" if use_adapter else "adapter=off")
    if condition_map:
        extra.append(f"condition_map={condition_map}")
    if unseen_level != "nearest":
        extra.append(f"unseen_level={unseen_level}")
    if unseen_codec != "unconditional":
        extra.append(f"unseen_codec={unseen_codec}")
    vlm.version = ";".join([vlm.version, *extra])


def _codec_rank(codec: str, level: str) -> float | None:
    """Rate rank of an untrained level, asked of the codec plugin (None if it cannot say)."""
    try:
        from cvb.plugins import get_registry

        c = get_registry().create("codec", codec)
        return float(c.rate_rank(c.parse_level(level)))
    except Exception:  # noqa: BLE001 - unknown here: fall back to comparing numbers
        return None


def create(arg: str | None = None, **options: Any) -> AdaptedVLM:
    """Factory of the ``adapted`` spec: ``--vlm adapted:ADAPTER_FOLDER``."""
    if not arg:
        raise UsageError("the adapted VLM needs its adapter folder: --vlm adapted:PATH "
                         "(made by `cvb adapt --out PATH`)")
    from .seam import adapted_factory

    other = adapted_factory(artifact.read_manifest(arg))
    if other is not None:  # a base from another plugin family (the reference tagger)
        return other(arg, **options)
    return AdaptedVLM(arg, **options)


def create_base(arg: str | None = None, **options: Any) -> AdaptedVLM:
    """Factory of the ``adapted-base`` spec: ``--vlm adapted-base:ADAPTER_FOLDER``."""
    if not arg:
        raise UsageError("adapted-base needs an adapter folder: --vlm adapted-base:PATH "
                         "(made by `cvb adapt --out PATH`)")
    from cvb.options import reject_unknown

    from .seam import adapted_factory

    other = adapted_factory(artifact.read_manifest(arg))
    if other is not None:  # a base from another plugin family (the reference tagger)
        return other(arg, use_adapter=False, **options)
    reject_unknown(f"adapted-base:{arg}", {k: v for k, v in options.items() if k not in BASE_OPTIONS}, BASE_OPTIONS)
    return AdaptedVLM(arg, use_adapter=False, **options)
