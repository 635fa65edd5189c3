"""A full temporary folder (where the run's SQLite spools live) stops ``cvb run`` with one line
naming the folder and saying to set TMPDIR, not a long ``sqlite3.OperationalError`` traceback.

The disk is filled for real from SQLite's side: ``PRAGMA max_page_count`` caps the temporary
database, so SQLite itself answers "database or disk is full" exactly as on a full disk."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import VENV_BIN
from hang_guard import HANG_S


def _sample(i: int, question: str):
    from cvb.types import ImageSource, Sample

    return Sample(f"s{i}", ImageSource(f"img{i}", None, b"\x89PNG" + bytes([i % 256]) * 64), question, "open", "a")


def _capped(monkeypatch, pages: int) -> None:
    from cvb import temp_db

    connect = temp_db.connect

    def small(**kwargs):
        conn = connect(**kwargs)
        conn.execute(f"PRAGMA max_page_count={pages}")
        return conn

    monkeypatch.setattr(temp_db, "connect", small)


def test_a_full_temp_folder_names_the_folder(tmp_path, monkeypatch):
    from cvb.errors import CvbError
    from cvb.run.job_spool import JobSpool
    from cvb.run.sample_spool import SampleSpool
    from cvb.temp_db import TempSpaceError

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    samples = [_sample(i, "what is shown? " * 200) for i in range(200)]
    spool = SampleSpool(samples, lambda s: "sha")  # the control: room enough, every sample kept
    assert len(spool) == 200 and spool[199].id == "s199"
    spool.close()

    _capped(monkeypatch, 8)
    with pytest.raises(TempSpaceError) as caught:
        SampleSpool(samples, lambda s: "sha")
    msg = str(caught.value)
    assert isinstance(caught.value, CvbError) and "\n" not in msg
    assert f"temporary files in {tmp_path} " in msg and "database or disk is full" in msg and "TMPDIR" in msg

    jobs = JobSpool()  # the job spool too, while a run adds its units
    with pytest.raises(TempSpaceError, match="TMPDIR"):
        jobs.add([(0, f"img{i}", f"{i:064x}", "jpeg" * 500, ()) for i in range(500)])


def test_other_sqlite_errors_pass_unchanged():
    """A bug (bad SQL) is not mistaken for a full disk."""
    import sqlite3

    from cvb import temp_db

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        temp_db.connect().execute("SELECT * FROM nowhere")


def test_cvb_run_with_a_full_temp_folder_says_one_line(tmp_path):
    """The real CLI in a fresh process: exit 1, one error line naming $TMPDIR, no traceback,
    nothing stored (the spool fills while planning, before any work)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    boot = ("import sys, cvb.temp_db as t\n"
            "connect = t.connect\n"
            "def small(**kw):\n"
            "    c = connect(**kw); c.execute('PRAGMA max_page_count=4'); return c\n"
            "t.connect = small\n"
            "from cvb.cli import main\n"
            "sys.argv[0] = 'cvb'; main()\n")
    args = ["run", "--vlm", "reference", "--task", "sample", "--limit", "3", "--codec", "jpeg", "--levels", "50",
            "--store", str(tmp_path / "r.sqlite"), "--cache-dir", str(tmp_path / "c"), "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp)}
    out = subprocess.run([str(VENV_BIN / "python"), "-c", boot, *args], capture_output=True, text=True,
                         timeout=HANG_S, env=env, cwd=tmp_path)
    assert out.returncode == 1, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"temporary files in {tmp} " in errors[0] and "Set TMPDIR" in errors[0]
    assert not (tmp_path / "c").exists()  # nothing compressed
