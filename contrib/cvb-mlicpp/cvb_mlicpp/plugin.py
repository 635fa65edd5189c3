"""cvb plugin hook: registers ``mlicpp`` (light: looks only at environment variables and files)."""

from __future__ import annotations

from cvb import hookimpl
from cvb.codecs.research.check import checkout_status, research_options
from cvb.specs import CodecSpec

ENV = "CVB_MLICPP"
DEFAULT_LEVELS = ("1", "2", "3", "4")
INSTALL_HINT = ("clone https://github.com/JiangWeibeta/MLIC, install its requirements in a Python "
                f"environment, download the MLIC++ checkpoints, then set {ENV}_REPO (the MLIC++ "
                f"folder of the checkout), {ENV}_PYTHON and {ENV}_CHECKPOINTS (see cvb-mlicpp's README)")


def mlicpp_status() -> str | None:
    return checkout_status(ENV, "MLIC++", "models/mlicpp.py", [f"mlicpp-{lv}.pth.tar" for lv in DEFAULT_LEVELS],
                           INSTALL_HINT)


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="mlicpp", factory="cvb_mlicpp.codec:MLICPPCodec", kind="learned", levels=DEFAULT_LEVELS,
        check=mlicpp_status, check_sees_arg=False,
        summary="MLIC++ (Jiang & Wang, ICML 2023 NCW) from your MLIC checkout, run in your Python; "
                "level = lambda index 1..6 (0.0018 .. 0.0483)",
        options=research_options(
            ENV, "the MLIC++ folder of the MLIC checkout", "folder of mlicpp-1.pth.tar .. mlicpp-6.pth.tar")))
