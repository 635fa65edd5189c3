"""Installing a plugin keeps cvb's pins: a numpy 2 that a plugin's install pulled in stops cvb
at start, naming the package that wanted it (``cvb.pins``); CONTRIBUTING.md and the scaffold's
README say how to install with the pins."""

from __future__ import annotations

import os
import subprocess

from conftest import ROOT, VENV_BIN
from hang_guard import HANG_S


def dist_info(site, name: str, version: str, *requires: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def cvb(site, *args, **env):
    full = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(site), **env}
    return subprocess.run([str(VENV_BIN / "cvb"), *args], capture_output=True, text=True, env=full, timeout=HANG_S)


def test_a_numpy_2_pulled_in_by_a_plugin_stops_cvb_naming_the_package(tmp_path):
    (tmp_path / "numpy").mkdir()  # what `import numpy` would now load
    (tmp_path / "numpy" / "__init__.py").write_text("raise ImportError('numpy 2 stand-in: never imported')\n")
    dist_info(tmp_path, "numpy", "2.1.0")
    dist_info(tmp_path, "cvb-jxr", "1.0", "cvb", "imagecodecs-fake")
    dist_info(tmp_path, "imagecodecs-fake", "2025.3.30", "numpy>=2")
    dist_info(tmp_path, "tolerant", "1.0", "numpy>=1.23,<3", "numpy-quaternion>=2022")  # allows numpy 1
    dist_info(tmp_path, "optional", "1.0", 'numpy>=2; extra == "fast"')  # only with an extra
    res = cvb(tmp_path, "list", "codecs")
    assert res.returncode == 1, res.stderr
    assert "numpy 2.1.0 is installed, but cvb needs numpy<2" in res.stderr
    assert "required by imagecodecs-fake 2025.3.30 (numpy>=2)" in res.stderr
    assert "tolerant" not in res.stderr and "optional" not in res.stderr
    assert "pip install -c constraints.txt" in res.stderr
    res = cvb(tmp_path, "plugins", "--json", CVB_ALLOW_NUMPY2="1")  # the way around it, on purpose
    assert res.returncode == 0, res.stderr


def test_the_install_docs_say_how_to_keep_the_pins():
    for doc in (ROOT / "CONTRIBUTING.md", ROOT / "core" / "cvb" / "scaffold" / "templates"):
        text = doc.read_text() if doc.is_file() else "".join(p.read_text() for p in doc.rglob("README*"))
        assert "pip install -c" in text and "constraints.txt" in text, doc
