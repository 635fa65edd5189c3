"""One meaning per flag, completion of component names, and what `cvb list vlms` says about
downloads: through the real ``cvb`` executable (fresh processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hang_guard import HANG_S

CVB = str(Path(sys.executable).with_name("cvb"))


def cvb(*args, env=None):
    full = {**os.environ, **(env or {})}
    full.pop("CVB_LOAD_PLUGINS", None)
    return subprocess.run([CVB, *args], capture_output=True, text=True, env=full, timeout=HANG_S)


def complete(*words):
    res = cvb(env={"COMP_WORDS": " ".join(["cvb", *words]), "COMP_CWORD": str(len(words)),
                   "_CVB_COMPLETE": "bash_complete"})
    assert res.returncode == 0, res.stderr
    return [line.split(",", 1)[1] for line in res.stdout.splitlines() if "," in line]


def test_completion_of_codec_vlm_task_and_metric_names():
    assert complete("run", "--codec", "jpeg,we") == ["jpeg,webp"]
    assert "qwen2.5-vl-3b" in complete("run", "--vlm", "qwen")
    assert complete("run", "--task", "fold") == ["folder:"]
    assert set(complete("compress", "-m", "ms")) == {"ms-ssim"}
    assert "jpeg" in complete("report", "--anchor", "jp")
    assert complete("run", "--codec", "zzz") == []


@pytest.mark.parametrize("cmd", [["run"], ["compress"], ["report"], ["export"], ["list", "codecs"],
                                 ["plugins"], ["check"]])
def test_short_flags_have_one_meaning(cmd):
    """-o is --option wherever it exists; --json wherever a result is printed."""
    res = cvb(*cmd, "--help")
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    if "-o," in text:
        assert "-o, -O, --option" in text or "-o, --option" in text
    assert "--json" in text or cmd == ["export"]  # export prints CSV or JSON lines by --format
    assert "-o, --output" not in text and "-o, --out " not in text


def test_list_vlms_says_what_a_first_use_downloads(tmp_path):
    res = cvb("list", "vlms", "--json", env={"HF_HUB_CACHE": str(tmp_path)})
    rows = {r["name"]: r for r in json.loads(res.stdout)["vlms"]}
    qwen = rows["qwen2.5-vl-3b"]
    assert qwen["usable"] and "not in the local cache" in qwen["note"] and "7.5 GB" in qwen["note"]
    snap = tmp_path / "models--Qwen--Qwen2.5-VL-3B-Instruct"
    (snap / "refs").mkdir(parents=True)
    (snap / "refs" / "main").write_text("abc123")
    (snap / "snapshots" / "abc123").mkdir(parents=True)
    (snap / "snapshots" / "abc123" / "config.json").write_text("{}")
    listed = json.loads(cvb("list", "vlms", "--json", env={"HF_HUB_CACHE": str(tmp_path)}).stdout)["vlms"]
    rows = {r["name"]: r for r in listed}
    assert "note" not in rows["qwen2.5-vl-3b"] and "note" in rows["qwen2.5-vl-7b"]
    table = cvb("list", "vlms", env={"HF_HUB_CACHE": str(tmp_path), "COLUMNS": "80"}).stdout
    assert "not cached" in table and "downloads about 16.6 GB on first use" in " ".join(table.split())
    offline = json.loads(cvb("list", "vlms", "--json", env={"HF_HUB_CACHE": str(tmp_path),
                                                           "HF_HUB_OFFLINE": "1"}).stdout)["vlms"]
    assert not next(r for r in offline if r["name"] == "qwen2.5-vl-7b")["usable"]


def test_folder_caption_prompt_is_not_read_as_a_text_question():
    """The default caption prompt has no OCR cue word, so the offline reference models describe
    the picture instead of reading (mostly absent) text."""
    from cvb.types import AnswerKind
    from cvb_local.folder_task import DEFAULT_PROMPT
    from cvb_reference.questions import is_text_question

    assert not is_text_question(DEFAULT_PROMPT, AnswerKind.CAPTION)
    assert is_text_question("Describe this image in one sentence.", AnswerKind.CAPTION)  # the old one
