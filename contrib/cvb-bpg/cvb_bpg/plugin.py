"""cvb plugin hook: registers the ``bpg`` codec (light: the codec module loads on first use)."""

from __future__ import annotations

from cvb import hookimpl
from cvb.codecs.external import tools_status
from cvb.specs import CodecSpec, Option

ENCODER_ENV, DECODER_ENV = "CVB_BPGENC", "CVB_BPGDEC"
INSTALL_HINT = ("build libbpg (https://bellard.org/bpg/: make, needs libpng, libjpeg, cmake for x265) "
                f"and put bpgenc and bpgdec on PATH, or set {ENCODER_ENV} and {DECODER_ENV}")


def bpg_status() -> str | None:
    return tools_status([(("bpgenc",), ENCODER_ENV), (("bpgdec",), DECODER_ENV)], "BPG binaries", INSTALL_HINT)


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="bpg", factory="cvb_bpg.codec:BPGCodec", kind="traditional",
        levels=("51", "47", "44", "40"), check=bpg_status,
        summary="BPG (HEVC intra in a small still-image container), bpgenc/bpgdec (user-supplied); "
                "level = QP 0..51 (lower = more bits)",
        options={
            "chroma": "420 (default), 422 or 444: bpgenc -f",
            "effort": "bpgenc -m compression effort 1..9 (default 8, bpgenc's own default)",
            "encoder": "x265 (default) or jctvc: bpgenc -e, the HEVC encoder inside",
            "timeout": Option("seconds before one call is killed (default 300)", affects_results=False),
        }))
