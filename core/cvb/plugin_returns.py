"""Checks of what plugins return, at the protocol boundary.

cvb calls plugin code it did not write; a codec whose ``decode`` returns ``None`` or a VLM whose
``answer`` returns plain strings must fail *its* unit with an error naming it, not crash the run
somewhere later with a traceback. Each check returns the value (normalised where the protocol
allows several forms) or raises:

- ``CodecError`` for a codec (the compression unit fails, the run goes on),
- ``PluginReturnError`` for a VLM, metric or task (the runner records it per unit, as it records
  an exception the plugin raised).

Used by ``cvb.codecs.base.compress`` (every codec call), the VLM session and the compression stage's
metrics, and the planner (task samples).
"""

from __future__ import annotations

from typing import Any, Sequence

from .errors import CodecError, PluginReturnError
from .types import Answer, Sample


def _what(value: Any) -> str:
    return "None" if value is None else f"a {type(value).__module__}.{type(value).__qualname__}".replace(
        "a builtins.", "a ")


def bitstream(codec: str, level: str, bits: Any) -> bytes:
    """``Codec.encode``: the whole bitstream, as non-empty bytes."""
    if isinstance(bits, memoryview):
        bits = bits.tobytes()
    if not isinstance(bits, (bytes, bytearray)):
        raise CodecError(f"codec {codec!r} level {level}: encode returned {_what(bits)}, not bytes")
    if not bits:
        raise CodecError(f"codec {codec!r} level {level}: encode returned no bitstream (0 bytes)")
    return bytes(bits)


def decoded_image(codec: str, level: str, image: Any, size: tuple[int, int]) -> Any:
    """``Codec.decode``: a PIL image of the original ``size``, as RGB."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise CodecError(f"codec {codec!r} level {level}: decode returned {_what(image)}, not a PIL image")
    if image.size != tuple(size):
        raise CodecError(f"codec {codec!r} level {level}: decoded size {image.size} != original {tuple(size)}")
    return image if image.mode == "RGB" else image.convert("RGB")


def answers(vlm: str, returned: Any, n_queries: int) -> list[Answer]:
    """``VLM.answer``: one ``cvb.types.Answer`` per query, text a string, error None or a string."""
    if returned is None or isinstance(returned, (str, bytes, dict)) or not hasattr(returned, "__iter__"):
        raise PluginReturnError(f"vlm {vlm!r}: answer() returned {_what(returned)}, not a list of "
                                f"cvb.types.Answer")
    out = list(returned)
    if len(out) != n_queries:
        raise PluginReturnError(f"vlm {vlm!r}: answer() returned {len(out)} answers to {n_queries} queries")
    for i, a in enumerate(out):
        if not isinstance(a, Answer):
            raise PluginReturnError(f"vlm {vlm!r}: answer() returned {_what(a)} at position {i}, not a "
                                    f"cvb.types.Answer (wrap text as Answer(text=...))")
        if not isinstance(a.text, str) or not (a.error is None or isinstance(a.error, str)):
            raise PluginReturnError(f"vlm {vlm!r}: answer {i} has text {_what(a.text)} and error "
                                    f"{_what(a.error)}; text must be a str, error None or a str")
    return out


def metric_value(metric: str, value: Any) -> float:
    """``Metric.measure``: a real number (NaN and infinities included: PSNR of identical images)."""
    if value is None or isinstance(value, (str, bytes, bool)):
        raise PluginReturnError(f"metric {metric!r}: measure returned {_what(value)}, not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PluginReturnError(f"metric {metric!r}: measure returned {_what(value)}, not a number") from None
    return number


def samples(task: str, items: Sequence[Any]) -> list[Sample]:
    """``Task.samples``: ``cvb.types.Sample`` objects."""
    return [sample(task, i, s) for i, s in enumerate(items)]


def sample(task: str, position: int, item: Any) -> Sample:
    """One item of ``Task.samples`` (checked as it streams by): a ``cvb.types.Sample``."""
    if not isinstance(item, Sample):
        raise PluginReturnError(f"task {task!r}: samples() yielded {_what(item)} at position {position}, not a "
                                f"cvb.types.Sample")
    return item
