"""Cheap status checks for `cvb list codecs`: look for compressai and the weights files only."""

from __future__ import annotations

import importlib.util

from .models import MODELS
from .weights import elic_weights, missing_message, zoo_weights


def _compressai_missing() -> str | None:
    if importlib.util.find_spec("compressai") is None:
        return "Python package compressai is not installed: pip install compressai"
    return None


def zoo_check(model: str):
    """Usable when compressai is installed and the default levels' mse weights are cached."""

    def check() -> str | None:
        reason = _compressai_missing()
        if reason:
            return reason
        missing = [w for q in MODELS[model].default_levels if not (w := zoo_weights(model, "mse", int(q))).present]
        return missing_message(missing, model)

    return check


def elic_check() -> str | None:
    reason = _compressai_missing()
    if reason:
        return reason
    missing = [w for q in MODELS["elic2022"].default_levels if not (w := elic_weights("chandelier", int(q))).present]
    if not missing:
        return None
    return "compressai publishes no ELIC weights (bring a compressai-format state_dict); " + str(
        missing_message(missing, "elic2022"))
