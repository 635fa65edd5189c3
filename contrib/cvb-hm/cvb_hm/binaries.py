"""Finding the HM binaries: cheap, imports nothing but cvb.codecs.external (used by the status check)."""

from __future__ import annotations

from cvb.codecs.external import tools_status

ENCODER_ENV, DECODER_ENV = "CVB_HM_ENCODER", "CVB_HM_DECODER"
#: names HM's build gives its binaries (CMake: TAppEncoder; the old makefiles: ...Static)
ENCODER_NAMES = ("TAppEncoder", "TAppEncoderStatic")
DECODER_NAMES = ("TAppDecoder", "TAppDecoderStatic")
INSTALL_HINT = ("build HM (https://vcgit.hhi.fraunhofer.de/jvet/HM) and put its bin/ folder on PATH, "
                f"or set {ENCODER_ENV} and {DECODER_ENV}")


def hm_status() -> str | None:
    """For the spec's status check: cheap, only looks for the two binaries."""
    return tools_status([(ENCODER_NAMES, ENCODER_ENV), (DECODER_NAMES, DECODER_ENV)], "HM binaries", INSTALL_HINT)
