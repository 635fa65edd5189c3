"""Finding the VTM binaries: cheap, imports nothing but cvb.codecs.external (used by the status check)."""

from __future__ import annotations

from cvb.codecs.external import tools_status

ENCODER_ENV, DECODER_ENV = "CVB_VTM_ENCODER", "CVB_VTM_DECODER"
#: names VTM's CMake build gives its binaries (and the ...Static names of older builds)
ENCODER_NAMES = ("EncoderApp", "EncoderAppStatic")
DECODER_NAMES = ("DecoderApp", "DecoderAppStatic")
INSTALL_HINT = ("build VTM (https://vcgit.hhi.fraunhofer.de/jvet/VVCSoftware_VTM) and put its bin/ folder "
                f"on PATH, or set {ENCODER_ENV} and {DECODER_ENV}")


def vtm_status() -> str | None:
    """For the spec's status check: cheap, only looks for the two binaries."""
    return tools_status([(ENCODER_NAMES, ENCODER_ENV), (DECODER_NAMES, DECODER_ENV)], "VTM binaries", INSTALL_HINT)
