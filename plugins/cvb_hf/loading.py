"""Finding, checking and loading a Hugging Face image-text-to-text checkpoint.

Every failure a user can meet here becomes a cvb error that says what to do: a model that is
not downloaded (``UnavailableError`` with the download command), a folder that is not a
checkpoint or holds some other kind of model (``UsageError`` naming the architecture found),
a processor whose video half needs a torchvision that cannot load (rebuilt without it).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from cvb.errors import UnavailableError, UsageError

from .status import cached_commit, download_hint, offline

#: checkpoints known to load with AutoModelForImageTextToText, for error messages
EXAMPLES = "Qwen/Qwen2.5-VL-3B-Instruct, HuggingFaceTB/SmolVLM-256M-Instruct, llava-hf/llava-1.5-7b-hf"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def hub_kwargs(is_local: bool, revision: str | None) -> dict[str, Any]:
    """Keyword arguments every ``from_pretrained`` call shares."""
    kwargs: dict[str, Any] = {"local_files_only": is_local or offline()}
    if revision and not is_local:
        kwargs["revision"] = revision
    return kwargs


def fingerprint(folder: str) -> str:
    """Identity of a local checkpoint: its config plus the names, sizes and times of its weights.

    Cheap (no weight bytes are read), and it changes when a fine-tuned or adapted model is
    written into the same folder, so cached predictions of the old weights are not reused.
    """
    root = Path(folder)
    h = hashlib.sha256()
    config = root / "config.json"
    if config.is_file():
        h.update(config.read_bytes())
    for path in sorted(root.iterdir()):
        if path.is_file() and path.name.endswith(_WEIGHT_SUFFIXES):
            st = path.stat()
            h.update(f"{path.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def revision_label(source: str, is_local: bool, revision: str | None) -> str:
    """The commit (or local fingerprint) that goes into the VLM's version string."""
    if is_local:
        return "local-" + fingerprint(source)
    commit = cached_commit(source, revision)
    if commit:
        return commit[:12]
    return revision or "main"


def transformers_ready() -> None:
    """Run cvb's torchvision compatibility step; call it before *any* transformers import.

    transformers imports torchvision wherever it is installed (image utilities reached even
    from model configs: LLaVA, Idefics3, Janus ...), and the registry's torchvision needs
    ``cvb.compat`` on a CPU-only torch. Every function here that imports transformers calls
    this first, so loading never depends on what the process happened to import before.
    Where torchvision is absent or broken beyond the step, transformers uses its PIL backends.
    """
    try:
        from cvb.compat import ensure_torchvision

        ensure_torchvision()
    except Exception:  # noqa: BLE001 - absent or broken torchvision: transformers falls back to PIL
        pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_config(source: str, is_local: bool, revision: str | None) -> Any:
    """The checkpoint's config, or an error saying why there is none."""
    transformers_ready()
    from transformers import AutoConfig, __version__ as tf_version

    if is_local and not (Path(source) / "config.json").is_file():
        raise UsageError(f"{source} is not a Hugging Face checkpoint: it has no config.json")
    try:
        return AutoConfig.from_pretrained(source, **hub_kwargs(is_local, revision))
    except ValueError as exc:
        text = str(exc)
        if "trust_remote_code" in text:
            raise UsageError(
                f"{source} needs its own remote code (trust_remote_code), which cvb does not run; use a "
                f"transformers-native checkpoint instead (e.g. OpenGVLab/InternVL3-1B-hf rather than "
                f"OpenGVLab/InternVL3-1B)") from None
        if "model type" in text or "does not recognize" in text:
            raise UnavailableError(
                f"{source}: transformers {tf_version} does not know this architecture ({_first_line(exc)}); "
                f"upgrade transformers") from None
        raise UsageError(f"cannot read the config of {source}: {_first_line(exc)}") from None
    except OSError as exc:
        if is_local:
            raise UsageError(f"cannot read the config of {source}: {_first_line(exc)}") from None
        why = "HF_HUB_OFFLINE is set and it is not in the local cache" if offline() else _first_line(exc)
        raise UnavailableError(f"model {source} is not available here ({why}); {download_hint(source)}") from None


def check_image_text_to_text(config: Any, source: str) -> None:
    """Refuse a checkpoint that ``AutoModelForImageTextToText`` cannot load, naming what it is."""
    transformers_ready()
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    model_type = getattr(config, "model_type", None)
    if model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        return
    archs = ", ".join(getattr(config, "architectures", None) or []) or "none declared"
    raise UsageError(
        f"{source} is not an image-text-to-text model: found architecture {archs} "
        f"(model_type {model_type!r}); the hf plugin loads models that AutoModelForImageTextToText "
        f"supports, e.g. {EXAMPLES}")


def _mentions_video(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        text = f"{type(seen).__name__} {seen}".lower()
        if "video" in text or "torchvision" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def load_processor(source: str, config: Any, is_local: bool, revision: str | None) -> Any:
    """``AutoProcessor``, or the same processor built with ``video_processor=None`` when only its
    video half (which needs torchvision) fails: cvb never sends videos."""
    transformers_ready()
    from transformers import AutoProcessor

    kwargs = hub_kwargs(is_local, revision)
    try:
        return AutoProcessor.from_pretrained(source, **kwargs)
    except Exception as exc:  # any failure to build it is the same answer for the user
        if not _mentions_video(exc):
            raise UnavailableError(f"cannot build the processor of {source}: {_first_line(exc)}") from exc
        try:
            return processor_without_video(source, config, kwargs)
        except Exception as exc2:
            raise UnavailableError(
                f"cannot build the processor of {source}: {_first_line(exc)}; without its video "
                f"processor: {_first_line(exc2)}") from exc2


IMAGE_BACKENDS = ("auto", "pil", "torchvision")


def image_backend(image_processor: Any) -> str:
    """``torchvision`` or ``pil``: which of transformers' two implementations this image processor
    is (``TorchvisionBackend`` in transformers 5, ``BaseImageProcessorFast`` in 4.x)."""
    names = {c.__name__ for c in type(image_processor).__mro__}
    return "torchvision" if names & {"TorchvisionBackend", "BaseImageProcessorFast"} else "pil"


def use_image_backend(processor: Any, source: str, is_local: bool, revision: str | None, backend: str) -> Any:
    """Give ``processor`` the image processor of ``backend`` (``pil`` or ``torchvision``).

    The image processor alone is rebuilt: asking ``AutoProcessor`` for a backend also asks it of
    the video processor, which has no PIL implementation. transformers falls back to the other
    backend with only a warning; here that is an error, since the answers would differ."""
    if backend == "auto" or image_backend(processor.image_processor) == backend:
        return processor
    transformers_ready()
    from transformers import AutoImageProcessor, __version__ as tf_version

    # transformers 5 names the backend; 4.x chose it with use_fast (5 still accepts it, with a warning)
    choice = {"backend": backend} if int(tf_version.split(".")[0]) >= 5 else {"use_fast": backend == "torchvision"}
    try:
        image_processor = AutoImageProcessor.from_pretrained(source, **hub_kwargs(is_local, revision), **choice)
    except Exception as exc:
        raise UnavailableError(f"cannot build the {backend} image processor of {source}: {_first_line(exc)}") from exc
    if image_backend(image_processor) != backend:
        why = "is torchvision installed and importable?" if backend == "torchvision" else ""
        raise UnavailableError(
            f"{source}: transformers {tf_version} has no {backend} image processor for "
            f"{type(processor.image_processor).__name__} here {why}".rstrip())
    processor.image_processor = image_processor
    return processor


def processor_without_video(source: str, config: Any, kwargs: dict[str, Any]) -> Any:
    """Build the checkpoint's processor class from its tokenizer and (PIL) image processor."""
    transformers_ready()
    from transformers import AutoImageProcessor, AutoTokenizer
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES, processor_class_from_name

    names = PROCESSOR_MAPPING_NAMES.get(config.model_type)
    name = names if isinstance(names, str) else (names[0] if names else None)
    cls = processor_class_from_name(name) if name else None
    if cls is None:
        raise UnavailableError(f"no processor class known for model type {config.model_type!r}")
    processor_dict, extra = cls.get_processor_dict(source, **kwargs)
    if processor_dict.get("processor_class"):
        cls = processor_class_from_name(processor_dict["processor_class"]) or cls
    args: list[Any] = []
    for attr in cls.get_attributes():
        if "video" in attr:
            args.append(None)
        elif "tokenizer" in attr:
            args.append(AutoTokenizer.from_pretrained(source, **kwargs))
        elif attr == "image_processor":
            args.append(AutoImageProcessor.from_pretrained(source, **kwargs))
        else:
            raise UnavailableError(f"{cls.__name__} needs a {attr}, which cvb cannot build without it")
    return _without_video(cls).from_args_and_dict(args, processor_dict, **extra)


def _without_video(cls: Any) -> Any:
    """A subclass of the processor class that accepts ``None`` for its video processor."""

    class ProcessorWithoutVideo(cls):
        def check_argument_for_proper_class(self, argument_name: Any, argument: Any) -> Any:
            if argument is None and "video" in argument_name:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    ProcessorWithoutVideo.__name__ = ProcessorWithoutVideo.__qualname__ = f"{cls.__name__}WithoutVideo"
    return ProcessorWithoutVideo


def load_model(source: str, config: Any, is_local: bool, revision: str | None, *, dtype: Any,
               device_map: Any, attn_implementation: str | None) -> Any:
    """``AutoModelForImageTextToText.from_pretrained`` with cvb's errors."""
    transformers_ready()
    from transformers import AutoModelForImageTextToText

    kwargs = hub_kwargs(is_local, revision)
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if device_map is not None:
        kwargs["device_map"] = device_map
    try:
        model = AutoModelForImageTextToText.from_pretrained(source, config=config, dtype=dtype, **kwargs)
    except OSError as exc:
        if is_local:
            raise UsageError(f"cannot load the weights in {source}: {_first_line(exc)}") from None
        raise UnavailableError(f"weights of {source} are not available here ({_first_line(exc)}); "
                               f"{download_hint(source)}") from None
    except ImportError as exc:  # e.g. flash_attention_2 or device_map="auto" without its package
        raise UnavailableError(f"cannot load {source}: {_first_line(exc)}") from None
    return model.eval()
