"""Registers the CompressAI learned codecs. Light: torch and compressai load on first encode."""

from __future__ import annotations

from cvb import hookimpl
from cvb.specs import CodecSpec

from .models import MODELS
from .status import elic_check, zoo_check

_COMMON = {
    "pretrained": "true (default): zoo weights from the torch hub cache; false: seeded random weights",
    "device": "cpu (default), cuda, cuda:N or auto",
    "seed": "seed of the random weights when pretrained=false (default 0)",
}

_FACTORIES = {
    "bmshj2018-factorized": "cvb_compressai.codec:Bmshj2018Factorized",
    "bmshj2018-hyperprior": "cvb_compressai.codec:Bmshj2018Hyperprior",
    "mbt2018-mean": "cvb_compressai.codec:Mbt2018Mean",
    "mbt2018": "cvb_compressai.codec:Mbt2018",
    "cheng2020-anchor": "cvb_compressai.codec:Cheng2020Anchor",
    "cheng2020-attn": "cvb_compressai.codec:Cheng2020Attn",
}


# check_sees_arg=False: the check looks at the default pretrained weights only, so a codec
# created with options (pretrained=false, another metric) is not refused by it up front;
# missing weights then raise UnavailableError, with the same advice, when a model loads.


@hookimpl
def register_codecs(register):
    for name, factory in _FACTORIES.items():
        info = MODELS[name]
        register(CodecSpec(
            name=name, factory=factory, kind="learned", levels=info.default_levels,
            check=zoo_check(name), check_sees_arg=False,
            summary=f"{info.summary}; level = zoo quality 1..{info.max_quality}",
            options={**_COMMON, "metric": "mse (default) or ms-ssim: which zoo weights"}))
    info = MODELS["elic2022"]
    register(CodecSpec(
        name="elic2022", factory="cvb_compressai.elic:Elic2022Codec", kind="learned",
        levels=info.default_levels, check=elic_check, check_sees_arg=False,
        summary=f"{info.summary}; level = quality 1..{info.max_quality}",
        options={**_COMMON, "variant": "chandelier (default) or official: compressai architecture"}))
