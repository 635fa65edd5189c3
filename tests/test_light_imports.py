"""`cvb --help`, `cvb plugins` and `cvb list` must never import torch, transformers, compressai
or any other heavy library (every plugin module is imported by them)."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"{args} imported heavy modules: {out.stdout.strip()}"
