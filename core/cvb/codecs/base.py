"""Conveniences for codec authors, and the one function that measures a compression.

``BaseCodec`` handles level parsing and ordering; a codec only writes ``encode``/``decode``.
``compress`` is how cvb runs any Codec: bpp always comes from the real bitstream.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Mapping, Sequence

from ..errors import CodecError, UnknownLevelError, UsageError
from ..types import CodecKind, Compressed

if TYPE_CHECKING:
    from PIL import Image

    from ..protocols import Codec


class BaseCodec:
    """Levels are integers in ``[level_min, level_max]`` unless ``valid_levels`` lists them.

    ``higher_level_higher_rate`` says which way the rate grows (quality: True; QP: False).
    ``deterministic``: the same image and level always give the same bytes (the conformance
    kit checks it; set False for a codec that samples, e.g. a diffusion decoder's noise
    living in the encoder).
    """

    name: str = ""
    kind: CodecKind = CodecKind.TRADITIONAL
    version: str = "1"
    default_levels: tuple[str, ...] = ()
    valid_levels: tuple[str, ...] | None = None
    level_min: int | None = None
    level_max: int | None = None
    higher_level_higher_rate: bool = True
    deterministic: bool = True

    def parse_level(self, level: str) -> str:
        level = str(level).strip()
        if self.valid_levels is not None:
            if level not in self.valid_levels:
                raise UnknownLevelError(self.name, level, f"valid levels: {', '.join(self.valid_levels)}")
            return level
        try:
            value = int(level)
        except ValueError:
            raise UnknownLevelError(self.name, level, self.level_hint()) from None
        if (self.level_min is not None and value < self.level_min) or (
            self.level_max is not None and value > self.level_max
        ):
            raise UnknownLevelError(self.name, level, self.level_hint())
        return str(value)

    def level_hint(self) -> str:
        if self.valid_levels is not None:
            return f"valid levels: {', '.join(self.valid_levels)}"
        direction = "higher = more bits" if self.higher_level_higher_rate else "lower = more bits"
        return f"levels are integers {self.level_min}..{self.level_max} ({direction})"

    def rate_rank(self, level: str) -> float:
        if self.valid_levels is not None:
            rank = float(self.valid_levels.index(level))
        else:
            rank = float(int(level))
        return rank if self.higher_level_higher_rate else -rank

    def params(self) -> Mapping[str, object]:
        return {}

    def level_code(self, level: str) -> int:
        """One byte naming ``level`` inside a bitstream (for codecs whose decoder must know it):
        the integer level itself, or its index in ``valid_levels``."""
        code = self.valid_levels.index(level) if self.valid_levels is not None else int(level)
        if not 0 <= code <= 255:
            raise CodecError(f"{self.name}: level {level} does not fit a one-byte level code")
        return code

    def level_of_code(self, code: int) -> str:
        """The level a ``level_code`` byte names (a damaged byte: ``CodecError``)."""
        if self.valid_levels is not None:
            if code >= len(self.valid_levels):
                raise CodecError(f"{self.name}: bitstream names level index {code}, the codec has "
                                 f"{len(self.valid_levels)} levels")
            return self.valid_levels[code]
        try:
            return self.parse_level(str(code))
        except UsageError as exc:
            raise CodecError(f"{self.name}: bitstream names level {code}: {exc}") from None

    def encode(self, image: "Image.Image", level: str) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, bits: bytes) -> "Image.Image":  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} v{self.version}>"


def sort_levels(codec: "Codec", levels: Sequence[str]) -> list[str]:
    """Validate and order levels lowest rate first, dropping duplicates."""
    parsed = {codec.parse_level(lv) for lv in levels}
    return sorted(parsed, key=codec.rate_rank)


def compress(codec: "Codec", image: "Image.Image", level: str) -> Compressed:
    """Encode and decode one RGB image, timing both; errors become ``CodecError``."""
    from .. import plugin_returns

    image = image.convert("RGB") if image.mode != "RGB" else image
    w, h = image.size
    try:
        t0 = time.perf_counter()
        bits = plugin_returns.bitstream(codec.name, level, codec.encode(image, level))
        t1 = time.perf_counter()
        out = codec.decode(bits)
        t2 = time.perf_counter()
        out = plugin_returns.decoded_image(codec.name, level, out, (w, h))
    except CodecError:
        raise
    except Exception as exc:
        raise CodecError(f"{codec.name} level {level}: {type(exc).__name__}: {exc}") from exc
    return Compressed(codec.name, level, bits, out, w, h, t1 - t0, t2 - t1)
