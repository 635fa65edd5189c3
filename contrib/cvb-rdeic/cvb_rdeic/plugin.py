"""cvb plugin hook: registers ``rdeic`` (light: looks only at environment variables and files)."""

from __future__ import annotations

from cvb import hookimpl
from cvb.research_check import checkout_status, research_options
from cvb.specs import CodecSpec

ENV = "CVB_RDEIC"
DEFAULT_LEVELS = ("1", "2", "3", "4", "5")
INSTALL_HINT = ("clone https://github.com/huai-chang/RDEIC, install its requirements in a Python "
                "environment (a CUDA GPU in practice), download its checkpoints and name them "
                f"rdeic-1.ckpt (lowest rate) .. rdeic-5.ckpt, then set {ENV}_REPO, {ENV}_PYTHON and "
                f"{ENV}_CHECKPOINTS (see cvb-rdeic's README)")


def rdeic_status() -> str | None:
    return checkout_status(ENV, "RDEIC", "model/rdeic.py", [f"rdeic-{lv}.ckpt" for lv in DEFAULT_LEVELS],
                           INSTALL_HINT)


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="rdeic", factory="cvb_rdeic.codec:RDEICCodec", kind="generative", levels=DEFAULT_LEVELS,
        check=rdeic_status, check_sees_arg=False,
        summary="RDEIC (Li et al., relay residual diffusion) from your checkout, run in your Python; "
                "level 1..5 = your rdeic-N.ckpt, lowest rate first",
        options=research_options(
            ENV, "the RDEIC checkout", "folder of rdeic-1.ckpt .. rdeic-5.ckpt",
            steps="diffusion sampling steps at decode (default 2, as inference.py)",
            guidance="classifier-free guidance scale (default 1.0, as inference.py)",
            seed="seed of the decoder's noise (default 231, as the repo); decoding is repeatable"),
        execution_options=("timeout",)))
