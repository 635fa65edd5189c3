"""Private temporary SQLite files (the run's sample and job spools, spooled answers) whose
failures name the folder they live in.

SQLite puts a temporary database in ``$SQLITE_TMPDIR``, ``$TMPDIR``, /var/tmp, /usr/tmp or
/tmp (the first that is a writable folder). When that disk fills up, its error ("database or
disk is full") names no folder and surfaced as a long traceback from deep inside the run;
``connect()`` turns it into one ``TempSpaceError`` line saying where and what to do.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile

from .errors import CvbError

#: SQLite's own search order for temporary files on Unix (``unixTempFileDir``)
_ENV = ("SQLITE_TMPDIR", "TMPDIR")
_DIRS = ("/var/tmp", "/usr/tmp", "/tmp")
#: what an OperationalError says when the temporary file cannot grow or be made
_SPACE_WORDS = ("full", "unable to open", "disk i/o error", "readonly", "read-only")


class TempSpaceError(CvbError):
    """A temporary SQLite file cannot be written (disk full, no permission): exit status 1."""


def temp_dir() -> str:
    """The folder SQLite puts its temporary files in, as it chooses it."""
    if sys.platform == "win32":
        return tempfile.gettempdir()
    candidates = [os.environ.get(name) for name in _ENV] + list(_DIRS)
    for folder in candidates:
        if folder and os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
            return folder
    return os.getcwd()


def explain(exc: sqlite3.OperationalError) -> Exception:
    """``TempSpaceError`` for a full or unwritable temporary folder, else ``exc`` itself."""
    msg = str(exc)
    if not any(word in msg.lower() for word in _SPACE_WORDS):
        return exc
    return TempSpaceError(
        f"cvb's temporary files in {temp_dir()} cannot be written ({msg}): the disk is full or the "
        f"folder is not writable. Set TMPDIR to a folder on a disk with free space (the spool "
        f"grows to about the size of the task's images) and rerun: results stored so far are kept.")


class _Cursor(sqlite3.Cursor):
    def execute(self, *args):
        try:
            return super().execute(*args)
        except sqlite3.OperationalError as exc:
            raise explain(exc) from None

    def executemany(self, *args):
        try:
            return super().executemany(*args)
        except sqlite3.OperationalError as exc:
            raise explain(exc) from None

    def executescript(self, *args):
        try:
            return super().executescript(*args)
        except sqlite3.OperationalError as exc:
            raise explain(exc) from None

    def fetchone(self):
        try:
            return super().fetchone()
        except sqlite3.OperationalError as exc:
            raise explain(exc) from None

    def fetchmany(self, *args):
        try:
            return super().fetchmany(*args)
        except sqlite3.OperationalError as exc:
            raise explain(exc) from None

    def fetchall(self):
        try:
            return super().fetchall()
        except sqlite3.OperationalError as exc:
            raise explain(exc) from None

    def __next__(self):
        try:
            return super().__next__()
        except sqlite3.OperationalError as exc:
            raise explain(exc) from None


class TempConnection(sqlite3.Connection):
    """A connection whose statements raise ``TempSpaceError`` where the temporary folder fails."""

    def cursor(self, factory=_Cursor):
        return super().cursor(factory)

    def execute(self, *args):
        return self.cursor().execute(*args)

    def executemany(self, *args):
        return self.cursor().executemany(*args)

    def executescript(self, *args):
        return self.cursor().executescript(*args)


def connect(**kwargs) -> TempConnection:
    """A private temporary database (SQLite removes its file on close)."""
    try:
        return sqlite3.connect("", factory=TempConnection, check_same_thread=False, **kwargs)
    except sqlite3.OperationalError as exc:
        raise explain(exc) from None
