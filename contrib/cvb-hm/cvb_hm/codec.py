"""HEVC intra with the HM reference software, on cvb's ExternalCodec.

Encode: RGB -> 8-bit Y'CbCr file (``yuv``) -> ``TAppEncoder`` -> the .bin bitstream.
Decode: ``TAppDecoder`` -> headerless .yuv of the size the SPS announces (``hevc_sps``) -> RGB.
Every setting that matters is on the command line (intra-only, one frame, 8-bit, automatic
padding to the minimum CU size), so no HM .cfg file is needed; an optional ``config`` is
passed first with ``-c`` and the explicit settings override it.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from cvb.errors import CodecError, UnavailableError
from cvb.external import ExternalCodec, binary_status
from cvb.options import as_choice, as_float, reject_unknown

from .binaries import DECODER_ENV, DECODER_NAMES, ENCODER_ENV, ENCODER_NAMES, INSTALL_HINT, locate
from .framing import frame, pad_to_even, unframe
from .hevc_sps import parse_sps
from .yuv import rgb_to_yuv, yuv_to_rgb

if TYPE_CHECKING:
    from PIL import Image

CHROMA_IDC = {"420": 1, "444": 3}


def hm_version(encoder: str | None) -> str:
    """``hm-16.20`` from the banner HM prints on ``--help``; ``hm-unknown`` if it prints none."""
    if encoder is None:
        return "hm-missing"
    try:
        proc = subprocess.run([encoder, "--help"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "hm-unknown"
    text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    match = re.search(r"Version \[([^\]]+)\]", text)
    return f"hm-{match.group(1).strip()}" if match else "hm-unknown"


class HMCodec(ExternalCodec):
    """Level = QP 0..51 (lower = more bits). Defaults 51, 47, 44, 40 reproduce the paper's
    HM anchors (its QP 53 does not exist in HEVC, whose QP stops at 51)."""

    name = "hm"
    default_levels = ("51", "47", "44", "40")
    level_min, level_max = 0, 51
    higher_level_higher_rate = False
    binaries = {ENCODER_NAMES[0]: ENCODER_ENV, DECODER_NAMES[0]: DECODER_ENV}
    install_hint = INSTALL_HINT

    def __init__(self, chroma: object = "420", config: object = None, timeout: object = 600,
                 **unknown: object):
        reject_unknown(self.name, unknown, ("chroma", "config", "timeout"))
        self.chroma = as_choice(self.name, "chroma", chroma, tuple(CHROMA_IDC))
        self.timeout_s = as_float(self.name, "timeout", timeout, lo=0.001)
        self.config = Path(str(config)).expanduser() if config else None
        if self.config is not None and not self.config.is_file():
            raise UnavailableError(f"hm: config file {self.config} not found")
        # a snapshot: every encode uses these bytes, so the cache key below always matches
        self._config_text = self.config.read_bytes() if self.config is not None else None
        self.version = hm_version(locate(ENCODER_NAMES, ENCODER_ENV))

    def params(self) -> Mapping[str, object]:
        out: dict[str, object] = {"chroma": self.chroma, "matrix": "bt601-limited"}
        if self._config_text is not None:  # its content, not its path, changes the bitstream
            out["config_sha256"] = hashlib.sha256(self._config_text).hexdigest()[:16]
        return out

    def binary(self, name: str) -> str:
        names, env = (ENCODER_NAMES, ENCODER_ENV) if name in ENCODER_NAMES else (DECODER_NAMES, DECODER_ENV)
        path = locate(names, env)
        if path is None:
            raise UnavailableError(binary_status(names[0], env, INSTALL_HINT))
        return path

    def encode_argv(self, qp: int, size: tuple[int, int], src: Path, dst: Path,
                    config: Path | None = None) -> list[str]:
        """``config``: where the snapshot of the user's .cfg was written for this call."""
        w, h = size
        argv = [self.binary(ENCODER_NAMES[0])]
        if config is not None:
            argv += ["-c", str(config)]
        return argv + [
            "-i", str(src), "-b", str(dst),
            "-wdt", str(w), "-hgt", str(h), "-fr", "1", "-f", "1", "-q", str(qp),
            f"--InputChromaFormat={self.chroma}", f"--ChromaFormatIDC={self.chroma}",
            "--InputBitDepth=8", "--InternalBitDepth=8", "--OutputBitDepth=8",
            "--Profile=" + ("main" if self.chroma == "420" else "main-RExt"),
            "--IntraPeriod=1", "--GOPSize=1", "--ConformanceWindowMode=1",
            "--SEIDecodedPictureHash=0",  # an MD5 SEI would add bytes a viewer never needs
        ]

    def decode_argv(self, src: Path, dst: Path) -> list[str]:
        return [self.binary(DECODER_NAMES[0]), "-b", str(src), "-o", str(dst), "-d", "8"]

    def encode_files(self, image: "Image.Image", level: str, tmp: Path) -> bytes:
        qp = int(self.parse_level(level))
        image = image.convert("RGB") if image.mode != "RGB" else image
        true_size = None
        if self.chroma == "420":
            image, true_size = pad_to_even(image)
        src, dst = tmp / "in.yuv", tmp / "out.bin"
        src.write_bytes(rgb_to_yuv(image, self.chroma))
        config = None
        if self._config_text is not None:
            config = tmp / "encoder.cfg"
            config.write_bytes(self._config_text)
        self.run_tool(self.encode_argv(qp, image.size, src, dst, config), cwd=tmp)
        stream = dst.read_bytes() if dst.is_file() else b""
        if not stream:
            raise CodecError("hm: TAppEncoder wrote no bitstream")
        return frame(stream, true_size)

    def decode_files(self, bits: bytes, tmp: Path) -> "Image.Image":
        stream, true_size = unframe(bits)
        try:
            sps = parse_sps(stream)
        except ValueError as exc:
            raise CodecError(f"hm: cannot read the bitstream's SPS: {exc}") from exc
        chroma = {1: "420", 3: "444"}.get(sps.chroma_format_idc)
        if chroma is None:
            raise CodecError(f"hm: chroma_format_idc {sps.chroma_format_idc} is not supported")
        src, dst = tmp / "in.bin", tmp / "rec.yuv"
        src.write_bytes(stream)
        self.run_tool(self.decode_argv(src, dst), cwd=tmp)
        if not dst.is_file():
            raise CodecError("hm: TAppDecoder wrote no picture")
        try:
            out = yuv_to_rgb(dst.read_bytes(), sps.width, sps.height, chroma)
        except ValueError as exc:
            raise CodecError(f"hm: {exc}") from exc
        return out.crop((0, 0, *true_size)) if true_size else out
