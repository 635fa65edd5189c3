"""The research worker's environment and a checkout's revision (issue 19, cvb's side):
the worker runs cvb's torchvision step and imports nothing from cvb's path; the revision is
read by git from worktrees and packed refs, and uncommitted changes never share a version."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from cvb.codecs.research import ResearchCodec
from cvb.codecs.research.revision import repo_revision

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")  # setup.sh's machines have it


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    """A real repository with two commits, the code in a subfolder (as MLIC++'s)."""
    repo = tmp_path / "MLIC"
    (repo / "MLIC++").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "MLIC++" / "model.py").write_text("A = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "MLIC++" / "model.py").write_text("A = 2\n")
    git(repo, "commit", "-qam", "two")
    return repo, first, git(repo, "rev-parse", "HEAD")


@needs_git
def test_revision_of_a_worktree_and_after_pack_refs_and_gc(checkout, tmp_path):
    repo, first, second = checkout
    assert repo_revision(repo / "MLIC++") == second[:12]
    tree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(tree), first)  # its .git is a file
    assert (tree / ".git").is_file()
    assert repo_revision(tree / "MLIC++") == first[:12]
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()  # the ref lives in packed-refs now
    assert repo_revision(repo / "MLIC++") == second[:12]
    git(repo, "gc", "-q")
    assert repo_revision(repo / "MLIC++") == second[:12]
    assert repo_revision(tree / "MLIC++") == first[:12]


@needs_git
def test_uncommitted_changes_get_their_own_version(checkout):
    repo, _, second = checkout
    clean = repo_revision(repo / "MLIC++")
    (repo / "MLIC++" / "weights.pth").write_bytes(b"untracked: weights and outputs do not count")
    assert repo_revision(repo / "MLIC++") == clean
    (repo / "MLIC++" / "model.py").write_text("A = 3\n")
    edited = repo_revision(repo / "MLIC++")
    assert edited.startswith(second[:12] + "+dirty.") and edited != clean
    (repo / "MLIC++" / "model.py").write_text("A = 4\n")
    other = repo_revision(repo / "MLIC++")
    assert other.startswith(second[:12] + "+dirty.") and other != edited  # two edits, two versions
    (repo / "MLIC++" / "model.py").write_text("A = 2\n")
    assert repo_revision(repo / "MLIC++") == clean


@needs_git
def test_without_git_the_files_are_read_and_the_revision_marked_unchecked(checkout, tmp_path, monkeypatch):
    repo, first, second = checkout
    tree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(tree), "-b", "other", first)
    git(repo, "pack-refs", "--all")
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)  # no git on PATH
    assert repo_revision(repo / "MLIC++") == f"{second[:12]}+unchecked"  # packed refs, read by hand
    assert repo_revision(tree / "MLIC++") == f"{first[:12]}+unchecked"  # a worktree, read by hand
    assert repo_revision(tmp_path / "nowhere") == "unversioned"


# ---- the worker's environment -----------------------------------------------------------------
HOOKS = '''
import json, os, sys

def build(spec, level):
    seen = {"path": sys.path, "pythonpath": os.environ.get("PYTHONPATH")}
    try:
        import torchvision  # no shim here: the worker must have applied cvb's
        import compressai
        seen["torchvision"] = torchvision.__version__
        seen["compressai"] = compressai.__file__
    except Exception as exc:
        seen["error"] = f"{type(exc).__name__}: {exc}"
    try:
        import cvb_shadow_probe
        seen["shadow"] = cvb_shadow_probe.__file__
    except ImportError:
        pass
    for name in ("codec", "compat", "research"):  # cvb's own modules, were its folder on the path
        try:
            __import__(name)
            seen.setdefault("cvb_modules", []).append(name)
        except ImportError:
            pass
    with open(os.environ["CVB_TEST_SEEN"], "w") as fh:
        json.dump(seen, fh)
    return None

def encode(model, spec, src, dst):
    import research_driver  # hooks may reuse the driver's helpers: still importable
    research_driver.write_stream(dst, 1, 1, lambda path: open(path, "wb").write(b"x"))

def decode(model, spec, src, dst):
    from PIL import Image
    Image.new("RGB", (8, 8)).save(dst)
'''


class Probe(ResearchCodec):
    name = "probe"
    env_prefix = "CVB_PROBE"
    default_levels = ("1",)
    level_min, level_max = 1, 1


def test_the_worker_gets_cvbs_torchvision_step_and_no_path_from_cvb(tmp_path, monkeypatch):
    """cvb's own interpreter as the worker (the default): compressai imports through cvb's
    torchvision step; a PYTHONPATH in cvb's environment (the conformance kit's fresh process
    used to set one) does not reach the worker, nor does cvb's package folder."""
    repo, ckpt, shadow = tmp_path / "repo", tmp_path / "ckpt", tmp_path / "shadow"
    for folder in (repo, ckpt, shadow):
        folder.mkdir()
    (ckpt / "probe-1.pth.tar").write_bytes(b"")
    (shadow / "cvb_shadow_probe.py").write_text("")
    hooks = tmp_path / "hooks.py"
    hooks.write_text(HOOKS)
    seen_file = tmp_path / "seen.json"
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    monkeypatch.setenv("CVB_TEST_SEEN", str(seen_file))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(Probe, "hooks", hooks)
    codec = Probe(repo=repo, checkpoints=ckpt, timeout=300)
    try:
        assert len(codec.encode(Image.new("RGB", (4, 4)), "1")) > 1
    finally:
        codec.close()
    seen = json.loads(seen_file.read_text())
    assert "error" not in seen, seen["error"]
    assert seen["torchvision"] and seen["compressai"]
    assert seen["pythonpath"] is None and "shadow" not in seen
    assert str(shadow) not in seen["path"] and seen["path"][0] == str(repo)
    assert "cvb_modules" not in seen, seen
    core = str(Path(sys.modules["cvb"].__file__).parent)
    assert core not in seen["path"]
