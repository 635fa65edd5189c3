"""cvb plugin hook: registers ``rdeic`` (light: looks only at environment variables and files)."""

from __future__ import annotations

import os
from pathlib import Path

from cvb import hookimpl
from cvb.codecs.research.check import checkout_status, research_options
from cvb.specs import CodecSpec

ENV = "CVB_RDEIC"
DEFAULT_LEVELS = ("1", "2", "3", "4", "5")
#: Stable Diffusion 2.1 base, where the checkout's README puts it and its config reads it when
#: the model is built (configs/model/rdeic.yaml sync_path, relative to the checkout)
SD_CKPT = "weight/v2-1_512-ema-pruned.ckpt"
INSTALL_HINT = ("clone the RDEIC code (huai-chang commit b179274, e.g. from the fork "
                "https://github.com/ShreyasBhaktharam/RDEIC), install its requirements in a Python "
                f"environment (a CUDA GPU in practice), put Stable Diffusion 2.1 at <checkout>/{SD_CKPT}, "
                "download the compression/control checkpoints and name them rdeic-1.ckpt (lowest rate) .. "
                f"rdeic-5.ckpt, then set {ENV}_REPO, {ENV}_PYTHON and {ENV}_CHECKPOINTS (see cvb-rdeic's README)")


def missing_sd(repo: Path) -> str | None:
    """Why the model cannot be built: its config loads Stable Diffusion 2.1 from the checkout."""
    if (repo / SD_CKPT).is_file():
        return None
    return (f"Stable Diffusion 2.1 is not at {repo / SD_CKPT}: RDEIC's configs/model/rdeic.yaml "
            f"(sync_path) loads it from there when the model is built, and inference merges each "
            f"level's checkpoint into it; download v2-1_512-ema-pruned.ckpt into the checkout's weight/ folder")


def rdeic_status() -> str | None:
    reason = checkout_status(ENV, "RDEIC", "model/rdeic.py", [f"rdeic-{lv}.ckpt" for lv in DEFAULT_LEVELS],
                             INSTALL_HINT)
    return reason or missing_sd(Path(os.environ[f"{ENV}_REPO"]))


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="rdeic", factory="cvb_rdeic.codec:RDEICCodec", kind="generative", levels=DEFAULT_LEVELS,
        check=rdeic_status, check_sees_arg=False,
        summary="RDEIC (Li et al., relay residual diffusion) from your checkout, run in your Python; "
                "level 1..5 = your rdeic-N.ckpt, lowest rate first",
        options=research_options(
            ENV, f"the RDEIC checkout (with {SD_CKPT})", "folder of rdeic-1.ckpt .. rdeic-5.ckpt (partial weights)",
            steps="diffusion sampling steps at decode (default 2, as inference_partition.py)",
            guidance="classifier-free guidance scale (default 1.0, as inference_partition.py)",
            seed="seed of the decoder's noise (default 231, as the repo); decoding is repeatable")))
