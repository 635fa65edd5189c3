"""Helpers for the tests of ``cvb run``: run the CLI in-process or as a subprocess, with only
the fakes registered, and read what landed in the store."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Sequence

FAKES_DIR = Path(__file__).resolve().parents[1]


def use_fakes(monkeypatch) -> None:
    """Make ``cvb.plugins.get_registry()`` return the fakes-only registry; reset the counters."""
    import cvb.plugins

    from .components import CALLS, build_registry

    monkeypatch.setattr(cvb.plugins, "_REGISTRY", build_registry())
    for k in CALLS:
        CALLS[k] = 0


def cli(args: Sequence[str]):
    """``cvb ARGS`` in this process (click's CliRunner); returns the click Result."""
    from click.testing import CliRunner

    from cvb.cli.main import cli as group

    return CliRunner().invoke(group, list(args), catch_exceptions=False)


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FAKES_DIR), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def _as_from_a_shell() -> None:
    """Ctrl-C delivered and handled as in a terminal: the test process (a pytest-xdist worker,
    after Ray and worker-pool tests) may have SIGINT blocked or ignored, and a child inherits
    both, which made the Ctrl-C test's run finish untouched now and then."""
    import signal

    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(args: Sequence[str], **env: str) -> subprocess.Popen:
    """``cvb ARGS`` in a new process (the real CLI, fakes registered by ``cvb_fakes.cli``)."""
    return subprocess.Popen([sys.executable, "-m", "cvb_fakes.cli", *args], env=subprocess_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_from_a_shell)


def count(store: Path, sql: str) -> int:
    """A COUNT query on a store that another process may be writing (read-only, retried)."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def counts(store: Path) -> dict[str, int]:
    return {t: count(store, f"SELECT COUNT(*) FROM {t}")
            for t in ("runs", "images", "compressed", "metrics", "predictions", "cells")}
