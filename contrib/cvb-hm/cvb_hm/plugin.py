"""cvb plugin hook: registers the ``hm`` codec (light: the codec module loads on first use)."""

from __future__ import annotations

from cvb import hookimpl
from cvb.specs import CodecSpec, Option

from .binaries import hm_status


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="hm", factory="cvb_hm.codec:HMCodec", kind="traditional",
        levels=("51", "47", "44", "40"), check=hm_status,
        summary="HEVC intra, HM reference software (user-supplied); level = QP 0..51 (lower = more bits)",
        options={
            "chroma": "420 (default) or 444: Y'CbCr sampling coded",
            "config": "optional HM .cfg passed with -c (explicit intra settings still win)",
            "timeout": Option("seconds before one HM call is killed (default 600)", affects_results=False),
        }))
