"""Cheap availability checks for `cvb list codecs`: nothing here imports a codec library."""

from __future__ import annotations

import importlib.util


def pillow_feature(feature: str, what: str):
    """A check that Pillow was built with ``feature`` (e.g. ``webp``, ``avif``, ``jpg_2000``)."""

    def check() -> str | None:
        from PIL import features

        if features.check(feature):
            return None
        return (f"this Pillow was built without {what}; install a Pillow wheel with it: "
                f"pip install --force-reinstall pillow")

    return check


def python_package(module: str, dist: str):
    """A check that the import package ``module`` (from distribution ``dist``) is installed."""

    def check() -> str | None:
        if importlib.util.find_spec(module) is not None:
            return None
        return f"Python package {dist} is not installed: pip install {dist}"

    return check
