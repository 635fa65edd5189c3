"""A third-party plugin installed through real entry-point metadata shows up everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, VENV_BIN

EXAMPLE = ROOT / "tests" / "plugins" / "cvb-example"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    """pip-install the example package into a private directory (no network, no deps)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, timeout=300,
    )
    return target


def cvb(site, *args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("CVB_LOAD_PLUGINS", None)
    env.update(env_extra or {})
    return subprocess.run([str(VENV_BIN / "cvb"), *args], capture_output=True, text=True, env=env, timeout=120)


def test_installed_plugin_in_plugins_and_list(example_site):
    res = cvb(example_site, "plugins", "--json")
    assert res.returncode == 0, res.stderr
    plugins = {p["name"]: p for p in json.loads(res.stdout)["plugins"]}
    ex = plugins["example"]
    assert ex["distribution"] == "cvb-example" and ex["version"] == "0.3.1"
    assert ex["status"] == "ok" and ex["provides"] == {"codec": ["palette"]}

    res = cvb(example_site, "list", "codecs", "--json")
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["palette"]["plugin"] == "example" and rows["palette"]["usable"]


def test_load_filter_restricts_to_one_distribution(example_site):
    res = cvb(example_site, "plugins", "--json", env_extra={"CVB_LOAD_PLUGINS": "cvb-example"})
    names = [p["name"] for p in json.loads(res.stdout)["plugins"]]
    assert names == ["example"]


def test_installed_codec_really_compresses(example_site):
    res = cvb(example_site, "compress", "-c", "palette", "--metric", "none", "--json", "-q",
              env_extra={"CVB_LOAD_PLUGINS": "cvb-example"})
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)["summary"]
    bpps = [s["bpp"] for s in summary]
    assert [s["level"] for s in summary] == ["2", "4", "6", "8"]
    assert bpps == sorted(bpps) and bpps[0] < bpps[-1]
