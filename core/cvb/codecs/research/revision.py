"""The revision of a research checkout, for a codec's ``version`` (and so its cache keys).

``git rev-parse HEAD`` reads every layout git has (a ``git worktree`` whose ``.git`` is a file,
refs packed by ``git pack-refs``/``git gc``, a checkout in a subfolder of the repository);
uncommitted changes to tracked files under the checkout add ``+dirty.<hash of the diff>``, so an
edited checkout never shares cache entries with its clean commit (nor with another edit).
Untracked files (weights, outputs) do not count. Where git cannot be run, the ``.git`` files are
read directly (loose refs, packed refs, worktrees) and the revision is marked ``+unchecked``:
without git, changes cannot be seen, so it never shares entries with a checked revision either.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

UNVERSIONED = "unversioned"
GIT_TIMEOUT_S = 30


def repo_revision(repo: Path) -> str:
    """``COMMIT12``, ``COMMIT12+dirty.HASH8``, ``COMMIT12+unchecked`` or ``unversioned``."""
    repo = Path(repo)
    if shutil.which("git"):
        found = _from_git(repo)
        if found is not None:
            return found
    commit = _read_head(repo)
    return f"{commit[:12]}+unchecked" if commit else UNVERSIONED


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=GIT_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)


def _from_git(repo: Path) -> str | None:
    """None when git cannot read it (not a repository, a safe.directory refusal, no commit yet)."""
    try:
        head = _git(repo, "rev-parse", "--verify", "-q", "HEAD")
        if head.returncode != 0:
            return None
        commit = head.stdout.decode().strip()
        # tracked changes under this folder only (MLIC++ lives in a subfolder of its repository)
        diff = _git(repo, "diff", "HEAD", "--no-ext-diff", "--no-textconv", "--binary", "--", ".")
    except (OSError, subprocess.TimeoutExpired):
        return None
    if diff.returncode != 0:
        return None
    if diff.stdout:
        return f"{commit[:12]}+dirty.{hashlib.sha256(diff.stdout).hexdigest()[:8]}"
    return commit[:12]


def _git_dir(repo: Path) -> tuple[Path, Path] | None:
    """``(git dir, common dir)`` of the repository holding ``repo`` (a worktree's ``.git`` is a
    file naming its git dir, whose ``commondir`` names the main one with the shared refs)."""
    for root in (repo, *repo.resolve().parents):
        dot = root / ".git"
        if dot.is_dir():
            return dot, dot
        if dot.is_file():
            text = dot.read_text().strip()
            if not text.startswith("gitdir:"):
                return None
            git_dir = (root / text[len("gitdir:"):].strip()).resolve()
            common = git_dir / "commondir"
            base = (git_dir / common.read_text().strip()).resolve() if common.is_file() else git_dir
            return git_dir, base
    return None


def _read_head(repo: Path) -> str | None:
    """HEAD's commit read from the files, without git."""
    try:
        dirs = _git_dir(repo)
        if dirs is None:
            return None
        git_dir, common = dirs
        head = (git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head[5:].strip()
        for base in (git_dir, common):  # per-worktree refs first, then the shared ones
            loose = base / ref
            if loose.is_file():
                return loose.read_text().strip() or None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line and line[0] not in "#^":
                    sha, _, name = line.partition(" ")
                    if name.strip() == ref:
                        return sha
    except OSError:
        return None
    return None
