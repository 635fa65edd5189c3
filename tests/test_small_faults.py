"""Smaller faults a user met (issue 9, item 12), each through the real command where it shows."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import VENV_BIN, make_plugin
from cvb.errors import CvbError, UsageError
from cvb.specs import CodecSpec, MetricSpec
from cvb.testing import FakeCodec

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.harness import cli, use_fakes
from hang_guard import HANG_S


# ---- a factory that takes no keyword arguments ---------------------------------------------------

class _Rigid:
    """A metric whose factory takes no keyword argument although its spec lists ``device``."""

    name, higher_is_better = "rigid", True

    def __init__(self):
        pass

    def measure(self, reference, distorted):
        return 1.0


def _broken_factory(**options):
    raise TypeError("a bug inside the plugin's own factory")


@pytest.fixture
def odd_plugins(registry_of, monkeypatch):
    def codecs(register):
        register(CodecSpec(name="nokw", factory=lambda: FakeCodec(), levels=("4",), options={"q": "listed"}))
        register(CodecSpec(name="buggy", factory=_broken_factory, levels=("4",)))

    def metrics(register):
        register(MetricSpec(name="rigid", factory=_Rigid, options={"device": "listed"}))

    reg = registry_of(make_plugin("odd", register_codecs=codecs, register_metrics=metrics),
                      with_entry_points=True)
    return reg


def test_factory_without_keyword_arguments_is_a_usage_error_not_a_traceback(odd_plugins, tmp_path):
    images = make_images(tmp_path / "imgs", 1)
    res = cli(["compress", "-c", "nokw", "-O", "nokw.q=1", "-m", "none", "-i", str(images), "-q"])
    assert res.exit_code == 2
    assert "codec 'nokw' does not accept option(s) q" in res.output and "a bug in the plugin" in res.output
    with pytest.raises(UsageError, match="metric 'rigid' does not accept option\\(s\\) device"):
        from cvb.run.plan import RunRequest, build_plan

        build_plan(RunRequest(vlms=["reference"], tasks=["sample"], codecs=["nokw"], metrics=["rigid"],
                              device="cpu"), odd_plugins)


def test_a_factory_raising_inside_is_named_not_a_traceback(odd_plugins, tmp_path):
    images = make_images(tmp_path / "imgs", 1)
    res = cli(["compress", "-c", "buggy", "-m", "none", "-i", str(images), "-q"])
    assert res.exit_code == 1
    assert "cannot create codec 'buggy': TypeError: a bug inside the plugin's own factory" in res.output


# ---- report.md escapes labels --------------------------------------------------------------------

def test_report_markdown_shows_labels_as_text_not_html():
    from cvb.report.tables import Table, _md_escape, markdown_table

    label = 'folder:<img src=x onerror="alert(1)">|&amp;'
    md = markdown_table(Table(title=label, header=["task", "x"], rows=[[label, "1"]]))
    assert re.search(r"(?<!\\)[<>]", md) is None  # every angle bracket escaped: no HTML tag
    assert "\\<img" in md and "\\|\\&amp;" in md
    assert md.count("\n|") == 3  # title, header, separator, one row: the | did not split a cell
    assert _md_escape("hf:X[mode=logits]") == "hf:X[mode=logits]"  # brackets stay readable


def test_report_md_written_by_cvb_report_escapes_task_labels(tmp_path, monkeypatch):
    use_fakes(monkeypatch)
    folder = tmp_path / "imgs<b>bold</b>"
    make_images(folder, 2)
    store = tmp_path / "r.sqlite"
    res = cli(["run", "--task", f"toy:{folder}", "--vlm", "scripted", "--codec", "fake", "--levels", "4",
               "--metric", "none", "--store", str(store), "--cache-dir", str(tmp_path / "c"), "-q"])
    assert res.exit_code == 0, res.output
    res = cli(["report", "--store", str(store), "--out", str(tmp_path / "rep"), "--no-plots"])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "rep" / "report.md").read_text()
    assert re.search(r"(?<!\\)[<>]", md) is None and "\\<b\\>bold\\</b\\>" in md


# ---- cvb plugins --traceback ---------------------------------------------------------------------

def test_plugins_traceback_prints_no_markup(registry_of):
    def codecs(register):
        register(CodecSpec(name="half", factory=FakeCodec, levels=("4",)))
        raise RuntimeError("failed [bold]half-way[/bold]")

    registry_of(make_plugin("halfway", register_codecs=codecs))
    res = cli(["plugins", "--traceback"])
    assert res.exit_code == 0
    assert "[bold]" not in res.output.replace("[bold]half-way[/bold]", "")
    assert "halfway" in res.output and "Traceback (most recent call last)" in res.output
    assert "failed [bold]half-way[/bold]" in res.output  # the error's own text, shown as it is


# ---- -m psnr,none ----------------------------------------------------------------------------------

def test_metric_none_combined_with_others_is_explained(tmp_path):
    out = subprocess.run([str(VENV_BIN / "cvb"), "compress", "-c", "jpeg", "-m", "psnr,none", "-q"],
                         capture_output=True, text=True, timeout=HANG_S, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 2
    assert "--metric none turns image-quality metrics off; it cannot be combined" in out.stderr
    assert "unknown metric" not in out.stderr


def test_run_metric_none_combined_is_explained(tmp_path, monkeypatch):
    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", 1)
    res = cli(["run", "--task", f"toy:{images}", "--vlm", "scripted", "--metric", "mse,none",
               "--store", str(tmp_path / "r.sqlite")])
    assert res.exit_code == 2 and "cannot be combined" in res.output


# ---- the cache's write errors say what happened ----------------------------------------------------

@pytest.mark.parametrize("code,advice", [(errno.EACCES, "no permission to write there"),
                                         (errno.EROFS, "no permission to write there"),
                                         (errno.ENOSPC, "the disk is full")])
def test_cache_write_errors_name_their_cause(tmp_path, monkeypatch, code, advice):
    from cvb.run.image_cache import CacheError, ImageCache

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    cache = ImageCache(tmp_path / "cache")
    (tmp_path / "cache" / "ab").mkdir(parents=True)
    with monkeypatch.context() as m, pytest.raises(CacheError) as err:
        m.setattr(os, "open", refuse)  # the cache writes its entry file with os.open
        cache.put("ab" + "0" * 62, b"data", None, {"bpp": 1.0}, keep_pixels=False)
    assert advice in str(err.value)
    if code != errno.ENOSPC:
        assert "free space" not in str(err.value)


# ---- a hook that raised half-way ----------------------------------------------------------------

def test_a_hook_that_raised_half_way_provides_nothing(registry_of):
    def codecs(register):
        register(CodecSpec(name="first", factory=FakeCodec, levels=("4",)))
        raise RuntimeError("broke after one")

    def metrics(register):
        register(MetricSpec(name="fine", factory=lambda: None))

    reg = registry_of(make_plugin("halfway", register_codecs=codecs, register_metrics=metrics))
    info = reg.plugins["halfway"]
    assert info.error == "register_codecs failed: RuntimeError: broke after one"
    assert "first" not in reg.names("codec") and "codec" not in info.provides
    with pytest.raises(CvbError, match="unknown codec 'first'"):
        reg.spec("codec", "first")
    assert reg.names("metric") == ["fine"]  # its other hook completed: that one stands
    res = cli(["list", "codecs"])
    assert "first" not in res.output


def test_a_withdrawn_claim_ends_a_conflict(registry_of):
    def good(register):
        register(CodecSpec(name="shared", factory=FakeCodec, levels=("4",)))

    def bad(register):
        register(CodecSpec(name="shared", factory=FakeCodec, levels=("4",)))
        raise RuntimeError("broke")

    reg = registry_of(make_plugin("a_good", register_codecs=good), make_plugin("b_bad", register_codecs=bad))
    assert reg.conflicts() == {} and reg.owner("codec", "shared") == "a_good"
