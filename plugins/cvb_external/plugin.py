"""Registers the codecs that run ffmpeg. Light: the status check only looks for the binary."""

from __future__ import annotations

from cvb import hookimpl
from cvb.codecs.external import binary_status
from cvb.specs import CodecSpec, Option

FFMPEG_ENV = "CVB_FFMPEG"  # same as cvb_external.ffmpeg_codec.FFMPEG_ENV (kept import-free)
FFMPEG_HINT = "install Debian package ffmpeg (apt-get install ffmpeg)"


def ffmpeg_check() -> str | None:
    return binary_status("ffmpeg", FFMPEG_ENV, FFMPEG_HINT)


_COMMON = {
    "chroma": "420 (default) or 444: Y'CbCr sampling coded",
    "timeout": Option("seconds before one ffmpeg call is killed (default 300)", affects_results=False),
}


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="x265", factory="cvb_external.x265:X265Codec", kind="traditional",
        levels=("47", "40", "33", "26"), check=ffmpeg_check,
        summary="HEVC intra, libx265 via ffmpeg, raw .hevc stream; level = QP 0..51 (lower = more bits)",
        options={**_COMMON, "preset": "x265 preset (default medium)"}))
    register(CodecSpec(
        name="ffmpeg-av1", factory="cvb_external.av1:Av1Codec", kind="traditional",
        levels=("58", "48", "38", "20"), check=ffmpeg_check,
        summary="AV1 intra, libaom via ffmpeg, raw .obu stream; level = CRF 0..63 (lower = more bits)",
        options={**_COMMON, "cpu_used": "libaom speed 0..8 (default 6)"}))
