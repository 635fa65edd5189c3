"""``HFVLM``: any Hugging Face image-text-to-text model as a cvb VLM.

Construction is cheap (it resolves the name and computes the version); the weights load on
the first ``answer`` (or ``load``) and ``close`` frees them. Queries are answered in batches
with left padding, every prompt rendered by the model's own chat template. Two answer modes:

- ``generate``: the lmms-eval prompt (``cvb.prompts.build_prompt``), greedy decoding, the
  prompt tokens stripped, the new tokens decoded.
- ``logits``: yes/no and multiple-choice questions read from one forward pass (the next-token
  probabilities of "Yes"/"No" or of the option letters, see ``choices``); open questions and
  captions are still generated. About half the cost of generating.
"""

from __future__ import annotations

import copy
import gc
import inspect
from typing import TYPE_CHECKING, Any, Callable, Sequence

from cvb.errors import UnavailableError, UsageError
from cvb.options import as_choice, as_int, reject_unknown
from cvb.prompts import build_prompt, cut_at_stop
from cvb.specs import Option
from cvb.types import Answer, Query

from .aliases import resolve_model
from .choices import CandidateTokens, pick
from .loading import IMAGE_BACKENDS
from .prefetch import Prefetcher, prefetch_threads

if TYPE_CHECKING:
    import torch
    from PIL import Image

MODES = ("generate", "logits")
#: processor outputs meant for training, never passed to the model when answering
TRAINING_ONLY_KEYS = ("labels",)
DTYPES = {"auto": None, "bf16": "bfloat16", "bfloat16": "bfloat16", "fp16": "float16", "float16": "float16",
          "half": "float16", "fp32": "float32", "float32": "float32"}

#: option name -> help, shown by `cvb list vlms` (keep in step with ``HFVLM.__init__``)
OPTIONS = {
    "device": "cuda if available else cpu; 'cuda:1', 'cpu', or 'auto' to shard over all GPUs (needs accelerate)",
    "dtype": "auto (checkpoint dtype on GPU, fp32 on CPU), bf16, fp16 or fp32",
    "batch_size": "queries per forward pass (default 8)",
    "max_new_tokens": "cap on generated tokens (default: each query's own, 32 for most tasks)",
    "min_pixels": "Qwen-style processors: smallest image area in pixels after resizing",
    "max_pixels": "Qwen-style processors: largest image area in pixels after resizing",
    "attn_implementation": "sdpa, eager, flash_attention_2 (default: transformers' choice)",
    "mode": "generate (text) or logits (yes/no and multiple choice from one forward pass)",
    "revision": "hub branch, tag or commit to load (default main)",
    "image_backend": ("auto (transformers' choice: torchvision where it imports, else PIL), pil or "
                      "torchvision: which implementation of the model's image processor prepares images; "
                      "they do not resize identically, so pin it to compare answers across machines"),
    # changes how fast answers come, never what they are: not part of the model's identity
    "prefetch": Option("auto (on when the model runs on a GPU), on or off: prepare the next batch's inputs "
                       "(image processor, tokenizer) on a CPU thread while the model answers this one",
                       affects_results=False),
}
PREFETCH = ("auto", "on", "off")


class HFVLM:
    """A transformers image-text-to-text model answering cvb queries in batches."""

    #: images per question (``Query.more_images``): each one an image entry of the chat template,
    #: in order, before the text (what the processors of Qwen2-VL/2.5-VL, Idefics3 and LLaVA take)
    max_images = 8

    def __init__(self, model: str, *, name: str | None = None, device: str | None = None,
                 dtype: str = "auto", batch_size: int | str = 8, max_new_tokens: int | str | None = None,
                 min_pixels: int | str | None = None, max_pixels: int | str | None = None,
                 attn_implementation: str | None = None, mode: str = "generate",
                 revision: str | None = None, prefetch: str = "auto", image_backend: str = "auto",
                 **unknown: Any):
        owner = f"hf:{model}"
        reject_unknown(owner, unknown, OPTIONS)
        self.model_ref = model
        self.source, self.is_local = resolve_model(model)
        if not self.is_local:  # a file-system look-up: a model that cannot load is refused now
            from .status import missing_offline

            reason = missing_offline(self.source, revision or None)
            if reason:
                raise UnavailableError(f"{owner}: {reason}")
        self.name = name or owner
        self.mode = as_choice(owner, "mode", mode, MODES)
        #: a peer's loglikelihood/multiple-choice question (``Query.answer_by="logits"``) is
        #: answered from the choices' next-token scores only in logits mode
        self.answers_by_logits = self.mode == "logits"
        self.dtype_name = as_choice(owner, "dtype", str(dtype).lower(), DTYPES)
        self.batch_size = as_int(owner, "batch_size", batch_size, lo=1)
        self.max_new_tokens = (None if max_new_tokens in (None, "")
                               else as_int(owner, "max_new_tokens", max_new_tokens, lo=1))
        self.min_pixels = None if min_pixels in (None, "") else as_int(owner, "min_pixels", min_pixels, lo=1)
        self.max_pixels = None if max_pixels in (None, "") else as_int(owner, "max_pixels", max_pixels, lo=1)
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise UsageError(f"{owner}: min_pixels={self.min_pixels} is larger than max_pixels={self.max_pixels}")
        self.device_option = (str(device).strip() or None) if device is not None else None
        self.attn_implementation = attn_implementation or None
        self.revision = revision or None
        self.prefetch = as_choice(owner, "prefetch", str(prefetch).lower(), PREFETCH)
        self.image_backend = as_choice(owner, "image_backend", str(image_backend).lower(), IMAGE_BACKENDS)
        self.version = self._version()
        self.model: Any = None  # a transformers model and processor, once loaded
        self.processor: Any = None
        self.device: Any = None
        self._candidates: CandidateTokens | None = None
        self._prefetcher: Prefetcher | None = None

    # ---- identity ----------------------------------------------------------------------------
    def revision_label(self) -> str:
        """The checkpoint's commit (12 characters), or ``local-`` and a fingerprint of a local
        folder: the part of ``version`` that names the weights (part of the seam, docs/vlm-hf.md)."""
        from .loading import revision_label

        return revision_label(self.source, self.is_local, self.revision)

    def _version(self) -> str:
        parts = [f"{self.source}@{self.revision_label()}", f"mode={self.mode}"]
        if self.dtype_name != "auto":
            parts.append(f"dtype={DTYPES[self.dtype_name]}")
        if self.min_pixels:
            parts.append(f"min_pixels={self.min_pixels}")
        if self.max_pixels:
            parts.append(f"max_pixels={self.max_pixels}")
        if self.image_backend != "auto":
            parts.append(f"image_backend={self.image_backend}")
        return ";".join(parts)

    def __repr__(self) -> str:
        state = "loaded" if self.model is not None else "not loaded"
        return f"<HFVLM {self.name} {self.version} ({state})>"

    # ---- loading -----------------------------------------------------------------------------
    def _placement(self) -> tuple[Any, Any, Any]:
        """(device for inputs, device_map for from_pretrained, dtype for from_pretrained)."""
        import torch

        opt = self.device_option
        if opt in (None, "auto") and not torch.cuda.is_available():
            opt = "cpu"
        if opt is None:
            opt = "cuda"
        device_map = "auto" if opt == "auto" else None
        try:
            device = None if opt == "auto" else torch.device(opt)
        except RuntimeError as exc:
            raise UsageError(f"{self.name}: option device={opt!r}: {exc}") from None
        if device is not None and device.type == "cuda" and not torch.cuda.is_available():
            raise UnavailableError(f"{self.name}: device {opt} asked for, but torch sees no CUDA GPU")
        wanted = DTYPES[self.dtype_name]
        if wanted is None:
            dtype: Any = torch.float32 if device is not None and device.type == "cpu" else "auto"
        else:
            dtype = getattr(torch, wanted)
        return device, device_map, dtype

    def load(self) -> None:
        """Load processor and weights (idempotent)."""
        if self.model is not None:
            return
        from .loading import check_image_text_to_text, load_config, load_model, load_processor, use_image_backend

        config = load_config(self.source, self.is_local, self.revision)
        check_image_text_to_text(config, self.source)
        processor = load_processor(self.source, config, self.is_local, self.revision)
        processor = use_image_backend(processor, self.source, self.is_local, self.revision, self.image_backend)
        self._configure_processor(processor)
        device, device_map, dtype = self._placement()
        model = load_model(self.source, config, self.is_local, self.revision, dtype=dtype,
                           device_map=device_map, attn_implementation=self.attn_implementation)
        if device is not None:
            model.to(device)
        self.device = device if device is not None else model.device
        self.processor, self.model = processor, model
        self._candidates = CandidateTokens(processor.tokenizer)
        self._forward_params = set(inspect.signature(model.forward).parameters)

    def _configure_processor(self, processor: Any) -> None:
        tok = processor.tokenizer
        tok.padding_side = "left"
        if tok.pad_token is None:
            if tok.eos_token is None:
                raise UnavailableError(f"{self.source}: the tokenizer has neither a pad nor an eos token")
            tok.pad_token = tok.eos_token
        if not getattr(processor, "chat_template", None):
            raise UnavailableError(
                f"{self.source} has no chat template (chat_template.jinja or chat_template in "
                f"processor_config.json); cvb prompts every model through its own template")
        if self.min_pixels or self.max_pixels:
            image_processor = processor.image_processor
            size = getattr(image_processor, "size", None)
            if not hasattr(image_processor, "merge_size") or size is None or "longest_edge" not in size:
                raise UsageError(f"{self.name}: min_pixels/max_pixels apply to Qwen-style image processors; "
                                 f"{type(image_processor).__name__} has no pixel budget")
            new_size = dict(size)
            if self.min_pixels:
                new_size["shortest_edge"] = self.min_pixels
            if self.max_pixels:
                new_size["longest_edge"] = self.max_pixels
            image_processor.size = type(size)(**new_size) if not isinstance(size, dict) else new_size
            for attr, value in (("min_pixels", self.min_pixels), ("max_pixels", self.max_pixels)):
                if value and hasattr(image_processor, attr):
                    setattr(image_processor, attr, value)

    def close(self) -> None:
        """Drop the weights and free their (GPU) memory."""
        if self.model is None:
            return
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._prefetcher = None
        self.model = None
        self.processor = None
        self._candidates = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover
            pass

    # ---- answering ---------------------------------------------------------------------------
    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        queries = list(queries)
        if not queries:
            return []
        self.load()
        answers: list[Answer] = []
        for start in range(0, len(queries), self.batch_size):
            answers += self._answer_batch(queries[start : start + self.batch_size])
        return answers

    @property
    def prepare_ahead(self) -> int:
        """Batches the local executor hands to ``prepare`` before asking for them."""
        return self._prefetcher.threads if self._prefetcher is not None else 1

    def prepare(self, queries: Sequence[Query]) -> None:
        """Start processing the inputs of ``queries`` (a later ``answer``) on a CPU thread.

        Called by cvb's local executor for the next batch before it asks for this one, so the
        image processor (often the slowest part of a small model on a GPU: resizing, cropping
        and normalising in Python) overlaps with the model's forward passes. The model's
        ``answer`` then picks the processed inputs up; it is the same computation, so the
        answers are unchanged. A no-op unless ``prefetch`` is on (``auto``: on a GPU)."""
        queries = list(queries)
        if not queries or self.prefetch == "off":
            return
        self.load()
        if self.prefetch == "auto" and getattr(self.device, "type", "cpu") == "cpu":
            return  # on CPU the processor and the model would only take cores from each other
        if self._prefetcher is None:
            from cvb.threads import available_cpus

            self._prefetcher = Prefetcher(self.processor, prefetch_threads(available_cpus()))
        for start in range(0, len(queries), self.batch_size):
            for group in self._groups(queries[start : start + self.batch_size]):
                prompts = [build_prompt(q) for q in group]
                self._prefetcher.submit(group, prompts, self.processed)

    def _answer_batch(self, batch: list[Query]) -> list[Answer]:
        """Closed questions by logits (in ``logits`` mode), the rest by generation, order kept."""
        out: list[Answer | None] = [None] * len(batch)
        for indices, fn in self._split(batch):
            for i, ans in zip(indices, self._isolating(fn, [batch[i] for i in indices])):
                out[i] = ans
        return out  # type: ignore[return-value]

    def _split(self, batch: list[Query]) -> list[tuple[list[int], Callable[[list[Query]], list[Answer]]]]:
        """The batch's indices answered by logits (closed questions in ``logits`` mode) and by
        generation (the rest), each with its way of answering; empty groups left out."""
        closed: list[int] = []
        if self.mode == "logits":
            closed = [i for i, q in enumerate(batch) if self._choices(q) is not None]
        rest = sorted(set(range(len(batch))) - set(closed))
        return [(ix, fn) for ix, fn in ((closed, self._by_logits), (rest, self._by_generation)) if ix]

    def _groups(self, batch: list[Query]) -> list[list[Query]]:
        return [[batch[i] for i in indices] for indices, _ in self._split(batch)]

    def _isolating(self, fn: Callable[[list[Query]], list[Answer]], queries: list[Query]) -> list[Answer]:
        """Run a batch; if it fails, run its queries one by one so one bad sample fails alone."""
        try:
            return fn(queries)
        except (UsageError, UnavailableError):
            raise
        except Exception as exc:  # noqa: BLE001 - isolate the sample that broke the batch
            if len(queries) == 1:
                return [Answer(text="", error=f"{type(exc).__name__}: {exc}")]
            self._free_cache()
            return [self._isolating(fn, [q])[0] for q in queries]

    def _free_cache(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ---- inputs ------------------------------------------------------------------------------
    def chat_text(self, prompt: str, processor: Any = None, images: int = 1) -> str:
        """The model's chat template around ``images`` images and ``prompt``, ready for the reply."""
        messages = [{"role": "user", "content": [{"type": "image"}] * images + [{"type": "text", "text": prompt}]}]
        return (processor or self.processor).apply_chat_template(messages, add_generation_prompt=True,
                                                                 tokenize=False)

    def model_images(self, queries: Sequence[Query]) -> list["Image.Image | None"]:
        """Each query's image as the processor is given it (subclasses resize here)."""
        return [None if q.image is None else _rgb(q.image) for q in queries]

    def processed(self, queries: Sequence[Query], prompts: Sequence[str], processor: Any = None) -> Any:
        """The processor's output for a batch (left-padded, on the CPU): pure, thread-safe
        when each thread has its own ``processor`` (the prefetch thread has a copy)."""
        processor = processor or self.processor
        texts = [self.chat_text(p, processor, 1 + len(q.more_images)) for q, p in zip(queries, prompts)]
        images = [[im, *(_rgb(m) for m in q.more_images)] for im, q in zip(self.model_images(queries), queries)]
        return processor(text=texts, images=images, return_tensors="pt", padding=True)

    def encode(self, queries: Sequence[Query], prompts: Sequence[str]) -> Any:
        """Processor output for a batch (left-padded), on the model's device and dtype."""
        import torch

        enc = self._prefetcher.take(queries, prompts) if self._prefetcher is not None else None
        if enc is None:
            enc = self.processed(queries, prompts)
        for key in TRAINING_ONLY_KEYS:  # e.g. PaliGemma's processor returns labels: with them the
            enc.pop(key, None)          # model computes a loss (and fails on logits_to_keep=1)
        self._ensure_mm_token_type_ids(enc)
        dtype = self.model.dtype
        for key, value in list(enc.items()):
            if isinstance(value, torch.Tensor):
                value = value.to(self.device)
                if value.is_floating_point():
                    value = value.to(dtype)
                enc[key] = value
        return enc

    def _ensure_mm_token_type_ids(self, enc: Any) -> None:
        """Models with M-RoPE (Qwen2-VL family) silently fall back to 1-D positions without
        ``mm_token_type_ids``: build it from the image/video token ids if a processor omits it."""
        if "mm_token_type_ids" not in self._forward_params or "mm_token_type_ids" in enc:
            return
        import torch

        config = self.model.config
        ids = enc["input_ids"]
        types = torch.zeros_like(ids)
        image_id = getattr(config, "image_token_id", None)
        video_id = getattr(config, "video_token_id", None)
        if image_id is not None:
            types[ids == image_id] = 1
        if video_id is not None:
            types[ids == video_id] = 2
        enc["mm_token_type_ids"] = types

    # ---- the two ways of answering -----------------------------------------------------------
    def _token_limit(self, query: Query) -> int:
        return self.max_new_tokens or query.max_new_tokens

    def _generation_config(self, max_new_tokens: int) -> Any:
        """The checkpoint's generation settings made greedy (no sampling, one beam)."""
        cfg = copy.deepcopy(self.model.generation_config)
        cfg.do_sample = False
        cfg.num_beams = 1
        cfg.temperature = None
        cfg.top_p = None
        cfg.top_k = None
        cfg.max_new_tokens = max_new_tokens
        cfg.max_length = None
        if cfg.pad_token_id is None:
            cfg.pad_token_id = self.processor.tokenizer.pad_token_id
        return cfg

    def _by_generation(self, queries: list[Query]) -> list[Answer]:
        import torch

        enc = self.encode(queries, [build_prompt(q) for q in queries])
        limits = [self._token_limit(q) for q in queries]
        config, extra = self._generation_config(max(limits)), {}
        stops = {q.stop for q in queries}
        if len(stops) == 1 and queries[0].stop:  # stop early only when every query shares the stops
            config.stop_strings = list(queries[0].stop)
            extra["tokenizer"] = self.processor.tokenizer
        with torch.inference_mode():
            out = self.model.generate(**enc, generation_config=config, **extra)
        new_tokens = out[:, enc["input_ids"].shape[1] :]
        tok = self.processor.tokenizer
        # the stop strings are cut from the text as lmms-eval's wrappers do (cvb.prompts.cut_at_stop)
        return [Answer(text=cut_at_stop(tok.decode(row[:limit], skip_special_tokens=True), q.stop).strip(),
                       meta={"mode": "generate"})
                for row, limit, q in zip(new_tokens, limits, queries)]

    def next_token_logprobs(self, queries: Sequence[Query]) -> "torch.Tensor":
        """Log-probabilities of the first answer token, one row per query (one forward pass)."""
        import torch

        enc = self.encode(queries, [build_prompt(q) for q in queries])
        kwargs: dict[str, Any] = {"use_cache": False}
        if "logits_to_keep" in self._forward_params:
            kwargs["logits_to_keep"] = 1
        with torch.inference_mode():
            logits = self.model(**enc, **kwargs).logits[:, -1, :]
        return torch.log_softmax(logits.float(), dim=-1)

    def _choices(self, query: Query) -> dict[str, list[int]] | None:
        """The candidate answers' token ids of a closed question (None: an open one)."""
        assert self._candidates is not None, "the model is loaded first"
        return self._candidates.for_query(query)

    def _by_logits(self, queries: list[Query]) -> list[Answer]:
        logprobs = self.next_token_logprobs(queries)
        answers = []
        for row, query in zip(logprobs, queries):
            choices = self._choices(query)
            assert choices is not None  # only closed questions are answered by logits
            best, scores = pick(row, choices)
            rounded = {k: round(v, 4) for k, v in scores.items()}
            answers.append(Answer(text=best, meta={"mode": "logits", "logprobs": rounded}))
        return answers

    # ---- the seam for adapter work -------------------------------------------------------------
    def vision_encoder(self) -> Any:
        """The model's vision tower module (e.g. Qwen2.5-VL's ``model.model.visual``), loaded."""
        from .vision import find_vision_tower

        self.load()
        return find_vision_tower(self.model)

    def visual_tokens(self, images: Sequence["Image.Image"]) -> list["torch.Tensor"]:
        """The features the LLM sees in place of each image's tokens: one ``(n, hidden)`` tensor
        per image (Qwen2.5-VL: the merger output). Autograd stays on; use ``torch.no_grad()``."""
        from .vision import visual_tokens

        self.load()
        return visual_tokens(self.model, self.processor, [_rgb(im) for im in images], self.device, self.model.dtype)


def _rgb(image: "Image.Image") -> "Image.Image":
    return image if image.mode == "RGB" else image.convert("RGB")


def create(arg: str | None = None, **options: Any) -> HFVLM:
    """Factory of the ``hf`` spec: ``hf:ORG/NAME``, ``hf:/path`` or ``hf:ALIAS``."""
    if arg is None:
        return HFVLM("", **options)  # raises the UsageError that lists the aliases
    return HFVLM(arg, **options)


def create_alias(alias: str, **options: Any) -> HFVLM:
    """Factory of an alias spec (``--vlm qwen2.5-vl-3b``)."""
    options.setdefault("name", alias)
    return HFVLM(alias, **options)
