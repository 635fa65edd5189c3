"""``YuvReferenceCodec``: the base of codecs run through a video reference encoder that reads
and writes headerless planar Y'CbCr files (HM for HEVC, VTM for VVC, and their kin).

Encode: RGB -> 8-bit Y'CbCr file (``cvb.codecs.yuv``) -> encoder -> the bitstream file. Decode:
decoder -> a headerless .yuv -> RGB. Intra-only, one frame, 8-bit. The real reference encoders
need a .cfg even so (HM 16.7 without one rejects its own built-in transform-size default, VTM 23
its default GOP), so a subclass ships the reference software's own all-intra .cfg as
``default_config``; it goes first with ``-c``, then the user's optional ``config`` (a second
``-c``: only its differences matter), then the explicit settings, which win over both. In
4:2:0 an odd-sized image is edge-padded to even (an image under ``min_side``, to that size) and
the true size travels in ``cvb.codecs.framing``'s 8-byte header. Subclasses say where the binaries
are, how the encoder's argv differs and how the decoder learns the picture size
(``picture_size``), and supply the tools' command lines (``encode_argv``, ``decode_argv``):
the encoder's flags are the tool's knowledge, so they live in its plugin (cvb-hm, cvb-vtm).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from ..errors import CodecError, UnavailableError
from .external import ExternalCodec, binary_status, find_first_binary
from .framing import frame, pad_to_even, unframe
from ..options import as_choice, as_float, reject_unknown
from .yuv import rgb_to_yuv, yuv_to_rgb

if TYPE_CHECKING:
    from PIL import Image

CHROMA = ("420", "444")


def tool_version(binary: str | None, pattern: str, prefix: str) -> str:
    """``PREFIX-<version>`` from the banner ``binary --help`` prints (``pattern``'s group 1)."""
    if binary is None:
        return f"{prefix}-missing"
    try:
        proc = subprocess.run([binary, "--help"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return f"{prefix}-unknown"
    match = re.search(pattern, (proc.stdout + proc.stderr).decode("utf-8", "replace"))
    return f"{prefix}-{match.group(1).strip()}" if match else f"{prefix}-unknown"


class YuvReferenceCodec(ExternalCodec):
    """Level = QP (lower = more bits). Subclasses set ``name``, the levels, ``encoder_names``,
    ``decoder_names``, ``encoder_env``, ``decoder_env``, ``install_hint``, ``version_pattern``,
    implement ``encode_argv`` and ``decode_argv`` (``binary(name)`` finds a tool) and may
    override ``picture_size``."""

    higher_level_higher_rate = False
    encoder_names: tuple[str, ...] = ()
    decoder_names: tuple[str, ...] = ()
    encoder_env = decoder_env = ""
    version_pattern = r"Version \[?([0-9][^\]\s]*)"
    #: True: the decoder cannot tell the picture size by itself, so every bitstream carries
    #: ``cvb.codecs.framing``'s 8-byte size header (counted in the bpp)
    always_frame = False
    #: the reference software's own all-intra .cfg, shipped with the plugin and always passed
    #: first (its content is hashed into the cache key)
    default_config: Path | None = None
    #: the smallest picture side coded: a smaller image is edge-padded up to it and cropped back
    #: (its true size in the header), since an encoder's smallest coding block may not fit it
    min_side = 16

    def coded_size(self, width: int, height: int) -> tuple[int, int]:
        """The size of the picture the encoder is given (and the decoder writes) for an image."""
        w, h = max(width, self.min_side), max(height, self.min_side)
        if self.chroma == "420":
            w, h = w + w % 2, h + h % 2
        return w, h

    def __init__(self, chroma: object = "420", config: object = None, timeout: object = 600,
                 **unknown: object):
        reject_unknown(self.name, unknown, ("chroma", "config", "timeout"))
        self.chroma = as_choice(self.name, "chroma", chroma, CHROMA)
        self.timeout_s = as_float(self.name, "timeout", timeout, lo=0.001)
        self.config = Path(str(config)).expanduser() if config else None
        if self.config is not None and not self.config.is_file():
            raise UnavailableError(f"{self.name}: config file {self.config} not found")
        # a snapshot: every encode uses these bytes, so the cache key below always matches
        self._config_text = self.config.read_bytes() if self.config is not None else None
        self._default_text = self.default_config.read_bytes() if self.default_config is not None else None
        self.binaries = {self.encoder_names[0]: self.encoder_env, self.decoder_names[0]: self.decoder_env}
        encoder = find_first_binary(self.encoder_names, self.encoder_env)
        self.version = tool_version(encoder, self.version_pattern, self.name)

    def params(self) -> Mapping[str, object]:
        out: dict[str, object] = {"chroma": self.chroma, "matrix": "bt601-limited"}
        if self._default_text is not None:  # content, not paths, changes the bitstream
            out["default_config_sha256"] = hashlib.sha256(self._default_text).hexdigest()[:16]
        if self._config_text is not None:
            out["config_sha256"] = hashlib.sha256(self._config_text).hexdigest()[:16]
        return out

    def binary(self, name: str) -> str:
        names, env = ((self.encoder_names, self.encoder_env) if name in self.encoder_names
                      else (self.decoder_names, self.decoder_env))
        path = find_first_binary(names, env)
        if path is None:
            raise UnavailableError(binary_status(names[0], env, self.install_hint))
        return path

    def encode_argv(self, qp: int, size: tuple[int, int], src: Path, dst: Path,
                    configs: tuple[Path, ...] = ()) -> list[str]:
        """The encoder's command line (the plugin's: each reference encoder has its own flags):
        code the ``size`` (width, height) 8-bit planar Y'CbCr picture ``src`` (chroma
        ``self.chroma``) at ``qp``, intra, into the bitstream ``dst``; ``configs``: the .cfg
        snapshots written for this call, in order (pass each, later ones win)."""
        raise NotImplementedError(f"{type(self).__name__} must say its encoder's command line (encode_argv)")

    def decode_argv(self, src: Path, dst: Path) -> list[str]:
        """The decoder's command line (the plugin's): decode bitstream ``src`` into the 8-bit
        headerless .yuv ``dst``."""
        raise NotImplementedError(f"{type(self).__name__} must say its decoder's command line (decode_argv)")

    def picture_size(self, stream: bytes, true_size: tuple[int, int] | None) -> tuple[int, int, str]:
        """(width, height, chroma) of the .yuv the decoder writes."""
        if true_size is None:
            raise CodecError(f"{self.name}: the bitstream has no size header")
        return (*self.coded_size(*true_size), self.chroma)

    def encode_files(self, image: "Image.Image", level: str, tmp: Path) -> bytes:
        qp = int(self.parse_level(level))
        image = image.convert("RGB") if image.mode != "RGB" else image
        true_size = image.size if self.always_frame else None
        image, padded_from = pad_to_even(image, self.min_side, even=self.chroma == "420")
        true_size = true_size or padded_from
        src, dst = tmp / "in.yuv", tmp / "out.bin"
        src.write_bytes(rgb_to_yuv(image, self.chroma))
        configs = []
        for text, file in ((self._default_text, "default.cfg"), (self._config_text, "encoder.cfg")):
            if text is not None:
                configs.append(tmp / file)
                configs[-1].write_bytes(text)
        self.run_tool(self.encode_argv(qp, image.size, src, dst, tuple(configs)), cwd=tmp)
        stream = dst.read_bytes() if dst.is_file() else b""
        if not stream:
            raise CodecError(f"{self.name}: {self.encoder_names[0]} wrote no bitstream")
        return frame(stream, true_size)

    def decode_files(self, bits: bytes, tmp: Path) -> "Image.Image":
        stream, true_size = unframe(bits)
        width, height, chroma = self.picture_size(stream, true_size)
        src, dst = tmp / "in.bin", tmp / "rec.yuv"
        src.write_bytes(stream)
        self.run_tool(self.decode_argv(src, dst), cwd=tmp)
        if not dst.is_file():
            raise CodecError(f"{self.name}: {self.decoder_names[0]} wrote no picture")
        try:
            out = yuv_to_rgb(dst.read_bytes(), width, height, chroma)
        except ValueError as exc:
            raise CodecError(f"{self.name}: {exc}") from exc
        return out.crop((0, 0, *true_size)) if true_size else out
