"""A CVB_X variable that names no usable binary says what is wrong with it, not "not on PATH"."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cvb.codecs.external import binary_status, env_path_problem
from cvb.plugins import PluginInfo, Registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contrib" / "cvb-hm"))
from cvb_hm import plugin as hm_plugin


def test_env_var_problems_are_named(tmp_path, monkeypatch):
    missing, folder, plain = tmp_path / "nope", tmp_path / "dir", tmp_path / "ffmpeg"
    folder.mkdir()
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    for path, says in ((missing, "does not exist"), (folder, "is not a file"), (plain, "is not executable")):
        monkeypatch.setenv("CVB_FFMPEG", str(path))
        reason = binary_status("ffmpeg", "CVB_FFMPEG", "apt-get install ffmpeg")
        assert f"CVB_FFMPEG={path} {says}" in reason and "PATH" not in reason
        assert env_path_problem("CVB_FFMPEG") in reason
    plain.chmod(0o755)
    assert binary_status("ffmpeg", "CVB_FFMPEG") is None


def test_builtin_x265_and_hm_say_what_is_wrong(tmp_path, monkeypatch):
    monkeypatch.setenv("CVB_FFMPEG", str(tmp_path / "ffmpeg"))
    monkeypatch.setenv("CVB_HM_ENCODER", str(tmp_path / "TAppEncoder"))
    reg = Registry()
    reg.load_entry_points()
    reg.add_plugin(hm_plugin, PluginInfo("hm", "cvb-hm", "0.1.0", "cvb_hm.plugin"))
    for codec in ("x265", "ffmpeg-av1"):
        status = reg.spec("codec", codec).status()
        assert "CVB_FFMPEG=" in status and "does not exist" in status
    reason = reg.spec("codec", "hm").status()
    assert f"CVB_HM_ENCODER={tmp_path / 'TAppEncoder'} does not exist" in reason
    assert "TAppDecoder not found on PATH" in reason  # the decoder variable is unset: PATH it is
    codec = reg.create("codec", "hm", check=False)
    from PIL import Image

    from cvb.errors import UnavailableError

    with pytest.raises(UnavailableError, match="does not exist"):
        codec.encode(Image.new("RGB", (16, 16)), "40")
