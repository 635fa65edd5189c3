"""`cvb --help`, `cvb plugins` and `cvb list` must never import torch, transformers, compressai
or any other heavy library (every plugin module is imported by them)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hang_guard import HANG_S

HEAVY = ("torch", "transformers", "compressai", "torchvision", "piq", "lpips", "datasets",
         "sentence_transformers", "onnxruntime", "rapidocr_onnxruntime", "sklearn", "skimage")

PROBE = """
import sys
from click.testing import CliRunner
from cvb.cli import cli
for args in {args!r}:
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, (args, res.output, res.exception)
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(",".join(heavy))
"""


@pytest.mark.parametrize("args", [
    [["--help"], ["compress", "--help"], ["run", "--help"], ["report", "--help"]],
    [["plugins"], ["plugins", "--json"]],
    [["list", "codecs"], ["list", "vlms"], ["list", "tasks"], ["list", "metrics"],
     ["list", "codecs", "--json"], ["list", "metrics", "--json"]],
])
def test_cli_stays_light(args):
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
                         capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"{args} imported heavy modules: {out.stdout.strip()}"


# A rerun of a finished matrix does no work: it reads the store and prints the cells. It must not
# pay for analysis it does not print (scipy's import, torch's, a model's), nor even numpy's: the
# score tables are plain arithmetic (cvb.analysis.stats and .bd import numpy in their functions).
RERUN_PROBE = """
import sys
sys.path.insert(0, {fakes!r})
import cvb.plugins
from cvb.cli.main import cli
from cvb_fakes import plugin as fakes

reg = cvb.plugins.get_registry()  # the installed plugins (jpeg, the default metrics, sample)...
reg.add_plugin(fakes, cvb.plugins.PluginInfo("fakes", "cvb-fakes", "0.1.0", "cvb_fakes.plugin"))  # ...+ a VLM
try:
    cli.main({args!r}, standalone_mode=False)
except SystemExit as exc:
    assert not exc.code, exc.code
print("HEAVY=" + ",".join(sorted(m for m in {heavy!r} if m in sys.modules)))
"""
RERUN_HEAVY = (*HEAVY, "numpy", "scipy", "pandas", "matplotlib")


def _probe_run(args: list[str]) -> str:
    from pathlib import Path

    fakes = str(Path(__file__).parent / "plugins" / "cvb-fakes")
    out = subprocess.run([sys.executable, "-c", RERUN_PROBE.format(fakes=fakes, args=args, heavy=RERUN_HEAVY)],
                         capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_rerun_of_a_finished_matrix_stays_light(tmp_path):
    """The real `cvb run` (installed JPEG codec, default metrics, bundled sample task, the fakes'
    VLM) once, then again in a fresh process: the rerun prints the cells table and imports
    neither numpy, scipy nor torch. Control: the first run, which measures MS-SSIM, does import torch
    (so the probe sees heavy imports where they happen)."""
    args = ["run", "--codec", "jpeg", "--levels", "50", "--vlm", "scripted", "--task", "sample",
            "--limit", "3", "--store", str(tmp_path / "r.sqlite"), "--cache-dir", str(tmp_path / "cache"), "-q"]
    first = _probe_run(args)
    assert "torch" in first.split("HEAVY=")[1], first
    rerun = _probe_run(args)
    heavy = rerun.split("HEAVY=")[1].strip()
    assert heavy == "", f"a rerun that does no work imported {heavy}"
    assert "jpeg" in rerun and "0 compressed" in rerun and "0 predictions" in rerun, rerun
