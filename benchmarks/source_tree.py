"""Register cvb's built-in plugins by hand when this source tree was never pip-installed.

A bare GPU machine gets the tree and ``PYTHONPATH=core:plugins`` but no entry points (those come
from ``pip install``); the benchmarks that run there register the plugins they need themselves,
exactly as the entry points would, and skip any that the installed entry points already gave.
"""

from __future__ import annotations


def register_builtins(names: tuple[str, ...]):
    """The plugin registry, with the built-in plugin packages ``names`` (e.g. ``cvb_hf``) in it."""
    import importlib

    import cvb.plugins

    reg = cvb.plugins.get_registry()
    have = {i.value for i in reg.plugins.values()}
    for name in names:
        if f"{name}.plugin" not in have:
            reg.add_plugin(importlib.import_module(f"{name}.plugin"),
                           cvb.plugins.PluginInfo(name, "cvb (source tree)", "0", f"{name}.plugin"))
    return reg
