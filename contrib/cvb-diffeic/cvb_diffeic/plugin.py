"""cvb plugin hook: registers ``diffeic`` (light: looks only at environment variables and files)."""

from __future__ import annotations

import os
from pathlib import Path

from cvb import hookimpl
from cvb.codecs.research.check import checkout_status, research_options
from cvb.specs import CodecSpec

ENV = "CVB_DIFFEIC"
DEFAULT_LEVELS = ("1", "2", "3", "4", "5")
#: level (lowest rate first) -> the released LFGCM + control-module folder (README: 0.02 .. 0.12 bpp)
FOLDERS = {"1": "1_2_16", "2": "1_2_8", "3": "1_2_4", "4": "1_2_2", "5": "1_2_1"}
#: Stable Diffusion 2.1 base, shared by every level, where the checkout's config reads it when
#: the model is built (configs/model/diffeic.yaml sync_path, relative to the checkout)
SD_CKPT = "weight/v2-1_512-ema-pruned.ckpt"
INSTALL_HINT = ("clone https://github.com/huai-chang/DiffEIC, install its requirements in a Python "
                f"environment (a CUDA GPU in practice), put Stable Diffusion 2.1 at <checkout>/{SD_CKPT} "
                f"and the released folders 1_2_1 .. 1_2_16 (each with lc.ckpt) in one folder, then set "
                f"{ENV}_REPO, {ENV}_PYTHON and {ENV}_CHECKPOINTS (see cvb-diffeic's README)")


def missing_sd(repo: Path) -> str | None:
    """Why the model cannot be built: its config loads Stable Diffusion 2.1 from the checkout."""
    if (repo / SD_CKPT).is_file():
        return None
    return (f"Stable Diffusion 2.1 is not at {repo / SD_CKPT}: DiffEIC's configs/model/diffeic.yaml "
            f"(sync_path) loads it from there when the model is built; download v2-1_512-ema-pruned.ckpt "
            f"into the checkout's weight/ folder")


def diffeic_status() -> str | None:
    reason = checkout_status(ENV, "DiffEIC", "model/diffeic.py",
                             [f"{FOLDERS[lv]}/lc.ckpt" for lv in DEFAULT_LEVELS], INSTALL_HINT)
    return reason or missing_sd(Path(os.environ[f"{ENV}_REPO"]))


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="diffeic", factory="cvb_diffeic.codec:DiffEICCodec", kind="generative", levels=DEFAULT_LEVELS,
        check=diffeic_status, check_sees_arg=False,
        summary="DiffEIC (Li et al. TCSVT 2024, Stable Diffusion 2.1 prior) from your checkout, run in "
                "your Python; level 1..5 = released 1_2_16 .. 1_2_1 (~0.02 .. ~0.12 bpp)",
        options=research_options(
            ENV, f"the DiffEIC checkout (with {SD_CKPT})", "folder of 1_2_*/lc.ckpt",
            device="hours per image on CPU",
            steps="diffusion sampling steps at decode (default 50, as inference_partition.py)",
            seed="seed of the decoder's noise (default 231, as the repo); decoding is repeatable")))
