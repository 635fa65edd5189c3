"""`cvb new-plugin` writes a package that installs, passes `cvb check` and its own tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest

from conftest import ROOT, VENV_BIN
from hang_guard import HANG_S


def cvb(*args, site=None, cwd=None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("CVB_LOAD_PLUGINS", None)
    if site:
        env["PYTHONPATH"] = str(site)
    return subprocess.run([str(VENV_BIN / "cvb"), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=HANG_S)


@pytest.mark.parametrize("category", ["codec", "vlm", "task", "metric"])
@pytest.mark.slow
def test_template_installs_passes_check_and_its_own_tests(tmp_path, category):
    name = f"my-{category}"
    res = cvb("new-plugin", category, name, "--dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    root = tmp_path / f"cvb-{name}"
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["cvb"] == {name: f"cvb_my_{category}.plugin"}
    assert f"cvb check {category} {name}" in (root / "README.md").read_text()

    site = tmp_path / "site"  # a real pip install of the package (no network, no deps)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(root)], check=True, capture_output=True, timeout=HANG_S)
    listed = cvb("list", f"{category}s", "--json", site=site)
    assert f'"name": "{name}"' in listed.stdout, listed.stdout
    checked = cvb("check", category, name, site=site)
    assert checked.returncode == 0 and "PASSED" in checked.stdout, checked.stdout + checked.stderr

    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                           cwd=root, capture_output=True, text=True, timeout=HANG_S,
                           env=dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1"))
    assert tests.returncode == 0 and "2 passed" in tests.stdout, tests.stdout[-2000:]


def test_bad_names_and_existing_folders_are_refused(tmp_path):
    res = cvb("new-plugin", "codec", "My_Codec", "--dir", str(tmp_path))
    assert res.returncode == 2 and "lower-case letters" in res.stderr
    assert cvb("new-plugin", "codec", "ok", "--dir", str(tmp_path)).returncode == 0
    res = cvb("new-plugin", "codec", "ok", "--dir", str(tmp_path))
    assert res.returncode == 2 and "already exists" in res.stderr
    res = cvb("new-plugin", "model", "x", "--dir", str(tmp_path))
    assert res.returncode == 2


def test_next_line_installs_with_cvbs_pins(tmp_path):
    """The printed `next:` command installs the package with the checkout's constraints.txt
    (CONTRIBUTING.md, "Keep cvb's pins"), not a bare `pip install -e` that may upgrade numpy."""
    res = cvb("new-plugin", "codec", "pinned", "--dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    nxt = res.stdout.splitlines()[-1]
    assert nxt.startswith(f"next: pip install -c {ROOT / 'constraints.txt'} -e {tmp_path / 'cvb-pinned'} && "), nxt


def test_templates_show_a_speed_option(tmp_path):
    """The vlm template declares batch_size with Option(..., affects_results=False), and the
    codec template says where such an option goes: what a plugin author edits shows it."""
    import importlib.util

    from cvb.scaffold import new_plugin

    root = new_plugin("vlm", "speedy", tmp_path)
    spec = importlib.util.spec_from_file_location("speedy_plugin", root / "cvb_speedy" / "plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    registered = []
    module.register_vlms(registered.append)
    (vlm,) = registered
    assert vlm.options["batch_size"].affects_results is False
    codec = new_plugin("codec", "speedy", tmp_path / "c")
    assert 'Option("help", affects_results=False)' in (codec / "cvb_speedy" / "plugin.py").read_text()
