"""cvb plugin hook: registers ``stablecodec`` (light: looks only at environment variables and files)."""

from __future__ import annotations

from cvb import hookimpl
from cvb.codecs.research.check import checkout_status, research_options
from cvb.specs import CodecSpec

ENV = "CVB_STABLECODEC"
DEFAULT_LEVELS = ("1", "2", "3", "4", "5")
#: level (lowest rate first) -> the released checkpoint (README: ~0.005 .. ~0.035 bpp on Kodak)
CHECKPOINTS = {"1": "stablecodec_ft32.pkl", "2": "stablecodec_ft16.pkl", "3": "stablecodec_ft8.pkl",
               "4": "stablecodec_ft4.pkl", "5": "stablecodec_ft2.pkl"}
#: shared by every level, in the checkpoints folder
ELIC, SD_TURBO = "elic_official.pth", "sd-turbo"
INSTALL_HINT = ("clone https://github.com/LuizScarlet/StableCodec, install its requirements in a Python "
                "environment (a CUDA GPU in practice), put SD-Turbo (folder sd-turbo), elic_official.pth "
                f"and stablecodec_ft*.pkl in one folder, then set {ENV}_REPO, {ENV}_PYTHON and "
                f"{ENV}_CHECKPOINTS (see cvb-stablecodec's README)")


def stablecodec_status() -> str | None:
    return checkout_status(ENV, "StableCodec", "src/StableCodec.py",
                           [ELIC, f"{SD_TURBO}/model_index.json", *CHECKPOINTS.values()], INSTALL_HINT)


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="stablecodec", factory="cvb_stablecodec.codec:StableCodecCodec", kind="generative",
        levels=DEFAULT_LEVELS, check=stablecodec_status, check_sees_arg=False,
        summary="StableCodec (Zhang et al. ICCV 2025, one-step diffusion on SD-Turbo) from your checkout, "
                "run in your Python; level 1..5 = stablecodec_ft32 .. ft2 (~0.005 .. ~0.035 bpp)",
        options=research_options(
            ENV, "the StableCodec checkout", f"folder of sd-turbo/, {ELIC} and stablecodec_ft*.pkl",
            device="for stablecodec the default is auto and cpu is refused: StableCodec's code is CUDA-only")))
