"""cvb plugin hook: registers ``tcm`` (light: looks only at environment variables and files)."""

from __future__ import annotations

from cvb import hookimpl
from cvb.codecs.research.check import checkout_status, research_options
from cvb.specs import CodecSpec

ENV = "CVB_TCM"
DEFAULT_LEVELS = ("1", "2", "3", "4")
INSTALL_HINT = ("clone https://github.com/jmliu206/LIC_TCM, install its requirements in a Python "
                f"environment, download its checkpoints, then set {ENV}_REPO, {ENV}_PYTHON and "
                f"{ENV}_CHECKPOINTS (see cvb-tcm's README)")


def tcm_status() -> str | None:
    return checkout_status(ENV, "LIC_TCM", "models/tcm.py", [f"tcm-{lv}.pth.tar" for lv in DEFAULT_LEVELS],
                           INSTALL_HINT)


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="tcm", factory="cvb_tcm.codec:TCMCodec", kind="learned", levels=DEFAULT_LEVELS,
        check=tcm_status, check_sees_arg=False,
        summary="TCM (Liu et al. CVPR 2023) from your LIC_TCM checkout, run in your Python; "
                "level = lambda index 1..6 (0.0025 .. 0.05)",
        options=research_options(
            ENV, "the LIC_TCM checkout", "folder of tcm-1.pth.tar .. tcm-6.pth.tar")))
