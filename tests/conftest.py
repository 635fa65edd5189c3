"""Shared fixtures. Sections below are owned by the area named in their header."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

# `-j`'s default is the CPUs free now, which the load decides: the suite asks for one process
# (the compression of `cvb run` on a thread of its own) so that what a test sees never depends
# on the machine's load; tests of the default remove this (tests/test_free_cpus.py)
os.environ["CVB_JOBS"] = "1"


# ---- core: registries built from in-process plugins ------------------------------------------
def make_plugin(name: str, **hooks) -> types.ModuleType:
    """A plugin module whose hooks are the given functions (``register_codecs=fn`` ...)."""
    from cvb import hookimpl

    mod = types.ModuleType(name)
    for hook, fn in hooks.items():
        fn.__name__ = hook
        setattr(mod, hook, hookimpl(fn))
    return mod


@pytest.fixture
def registry_of(monkeypatch):
    """Build a Registry from plugin modules and make it the process-wide one for the CLI."""
    from cvb import plugins

    def build(*mods: types.ModuleType, with_entry_points: bool = False):
        reg = plugins.Registry()
        if with_entry_points:
            reg.load_entry_points()
        for mod in mods:
            reg.add_plugin(mod, plugins.PluginInfo(name=mod.__name__, distribution="tests",
                                                   version="0", value=mod.__name__))
        monkeypatch.setattr(plugins, "_REGISTRY", reg)
        return reg

    return build


@pytest.fixture
def fake_plugin():
    """A plugin providing the `fake` codec of cvb.testing."""
    from cvb.testing import fake_codec_spec

    return make_plugin("fakes", register_codecs=lambda register: register(fake_codec_spec()))


# ---- hf VLM plugin: tiny random checkpoints of real architectures (owner: cvb_hf) ---------------
@pytest.fixture(scope="session")
def tiny_vlm_dirs(tmp_path_factory):
    """``{"qwen2_5_vl" | "idefics3" | "llava" | "janus": Path}``: tiny random checkpoints written with
    ``save_pretrained``, loadable through ``hf:PATH`` like real ones (see tests/tiny_vlms.py).
    Each is built the first time a test asks for it."""
    import tiny_vlms

    root = tmp_path_factory.mktemp("tiny_vlms")

    class Dirs(dict):
        def __missing__(self, arch: str) -> Path:
            path = tiny_vlms.BUILDERS[arch](root / arch)
            self[arch] = path
            return path

    return Dirs()
# ---- end hf VLM plugin ------------------------------------------------------------------------


# ---- suite time: the `slow` mark ---------------------------------------------------------------
def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: many seconds of CPU (fresh processes, real models); the full suite runs "
                   "them, `-m 'not slow'` is the quick development subset (CONTRIBUTING.md)")
    config.addinivalue_line(
        "markers", "first: a test of minutes that starts before all others, so that with -n 2 it "
                   "runs beside the rest of the suite instead of alone at its end")


def pytest_collection_modifyitems(config, items):
    """Tests marked `first` lead the order: xdist hands tests out in collection order, and a
    7-minute test collected last (test_tagger_demo) otherwise holds the run open on one core."""
    items.sort(key=lambda item: item.get_closest_marker("first") is None)  # stable: order kept
