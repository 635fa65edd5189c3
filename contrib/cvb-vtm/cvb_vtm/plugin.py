"""cvb plugin hook: registers the ``vtm`` codec (light: the codec module loads on first use)."""

from __future__ import annotations

from cvb import hookimpl
from cvb.specs import CodecSpec, Option

from .binaries import vtm_status


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="vtm", factory="cvb_vtm.codec:VTMCodec", kind="traditional",
        levels=("53", "49", "45", "40"), check=vtm_status,
        summary="VVC intra, VTM reference software (user-supplied); level = QP 0..63 (lower = more bits)",
        options={
            "chroma": "420 (default) or 444: Y'CbCr sampling coded",
            "config": "optional VTM .cfg passed with -c (explicit intra settings still win)",
            "timeout": Option("seconds before one VTM call is killed (default 600)", affects_results=False),
        }))
