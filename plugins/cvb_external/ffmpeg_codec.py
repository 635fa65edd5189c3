"""What the ffmpeg-based codecs share: raw RGB in, one coded frame out, PPM back.

The RGB image goes to ffmpeg as raw ``rgb24`` (no PNG step), ffmpeg's swscale converts it to
Y'CbCr (BT.601, limited range: ffmpeg's default for untagged video, used again on decode, so
both directions agree) with fixed scaler flags, and the encoder writes a bare elementary
stream. Decoding asks ffmpeg for a PPM, which carries its own size.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from cvb.errors import CodecError
from cvb.codecs.external import ExternalCodec, find_binary
from cvb.codecs.framing import frame, pad_to_even, unframe
from cvb.options import as_choice, as_float, reject_unknown

if TYPE_CHECKING:
    from PIL import Image

FFMPEG_ENV = "CVB_FFMPEG"
FFMPEG_HINT = "install Debian package ffmpeg (apt-get install ffmpeg)"
SWS_FLAGS = "bicubic+accurate_rnd+full_chroma_int"
CHROMA = {"420": "yuv420p", "444": "yuv444p"}


def ffmpeg_version(path: str | None) -> str:
    """``ffmpeg-5.1.9-0+deb12u1``; the encoder library versions live in the build, so the
    ffmpeg version stands in for them in the cache key."""
    import subprocess

    if path is None:
        return "ffmpeg-missing"
    try:
        out = subprocess.run([path, "-hide_banner", "-version"], capture_output=True, timeout=10,
                             stdin=subprocess.DEVNULL).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return "ffmpeg-unknown"
    first = out.splitlines()[0] if out else ""
    parts = first.split()
    return f"ffmpeg-{parts[2]}" if len(parts) > 2 and parts[0] == "ffmpeg" else "ffmpeg-unknown"


class FfmpegCodec(ExternalCodec):
    """Subclasses set ``stream_format`` (ffmpeg muxer/demuxer) and ``encoder_args(level)``."""

    binaries = {"ffmpeg": FFMPEG_ENV}
    install_hint = FFMPEG_HINT
    stream_format = ""
    needs_even_420 = False  # x265 rejects odd sizes in 4:2:0
    min_side = 0  # the encoder's smallest picture side (padded up to it, cropped back on decode)
    option_names: tuple[str, ...] = ("chroma", "timeout")

    def __init__(self, chroma: object = "420", timeout: object = 300, **unknown: object):
        reject_unknown(self.name, unknown, self.option_names)
        self.chroma = as_choice(self.name, "chroma", chroma, tuple(CHROMA))
        self.timeout_s = as_float(self.name, "timeout", timeout, lo=0.001)
        self.version = ffmpeg_version(find_binary("ffmpeg", FFMPEG_ENV))

    def params(self) -> Mapping[str, object]:
        return {"chroma": self.chroma, "sws_flags": SWS_FLAGS}

    def encoder_args(self, level: str) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode_argv(self, level: str, size: tuple[int, int], src: Path, dst: Path) -> list[str]:
        w, h = size
        return [
            self.binary("ffmpeg"), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", str(src),
            "-frames:v", "1", "-an", "-sws_flags", SWS_FLAGS, "-pix_fmt", CHROMA[self.chroma],
            *self.encoder_args(level), "-f", self.stream_format, str(dst),
        ]

    def decode_argv(self, src: Path, dst: Path) -> list[str]:
        return [
            self.binary("ffmpeg"), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", self.stream_format, "-i", str(src), "-frames:v", "1", "-sws_flags", SWS_FLAGS,
            "-pix_fmt", "rgb24", "-c:v", "ppm", "-f", "image2", "-update", "1", str(dst),
        ]

    def encode_files(self, image: "Image.Image", level: str, tmp: Path) -> bytes:
        level = self.parse_level(level)
        image = image.convert("RGB") if image.mode != "RGB" else image
        true_size = None
        even = self.needs_even_420 and self.chroma == "420"
        if even or self.min_side:
            image, true_size = pad_to_even(image, self.min_side, even)
        src, dst = tmp / "in.rgb", tmp / f"out.{self.stream_format}"
        src.write_bytes(image.tobytes())
        self.run_tool(self.encode_argv(level, image.size, src, dst), cwd=tmp)
        stream = dst.read_bytes() if dst.is_file() else b""
        if not stream:
            raise CodecError(f"{self.name}: ffmpeg wrote no bitstream")
        return frame(stream, true_size)

    def decode_files(self, bits: bytes, tmp: Path) -> "Image.Image":
        from PIL import Image

        stream, true_size = unframe(bits)
        src, dst = tmp / f"in.{self.stream_format}", tmp / "out.ppm"
        src.write_bytes(stream)
        self.run_tool(self.decode_argv(src, dst), cwd=tmp)
        if not dst.is_file():
            raise CodecError(f"{self.name}: ffmpeg decoded no picture")
        with Image.open(dst) as im:
            out = im.convert("RGB")
        if true_size is not None:
            out = out.crop((0, 0, *true_size))
        return out
