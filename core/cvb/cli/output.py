"""What every command shares about its output: notes on stderr, checks of output paths.

Results go to stdout (so ``cvb report > report.txt`` and ``--json`` pipe cleanly); progress,
notes and warnings go to stderr.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

# TARGET.KEY=VALUE or KEY=VALUE: an option value given where a path was expected
_KEY_VALUE = re.compile(r"^[A-Za-z_][\w.-]*=.*")


#: the version of every ``--json`` shape (documented per command in docs/cli.md); it grows when
#: a field changes meaning or goes away (new fields do not change it). ``report.json`` has its
#: own ``cvb_report`` version.
JSON_VERSION = 1


def json_result(obj: dict, **dumps) -> str:
    """A command's ``--json`` object with its shape's version first (``"cvb_json": 1``)."""
    import json

    return json.dumps({"cvb_json": JSON_VERSION, **obj}, indent=2, **dumps)


def note(message: str) -> None:
    """A progress note or warning on stderr (never mixed into the result on stdout)."""
    click.echo(message, err=True)


def looks_like_option(path: Path | str) -> bool:
    """``jpeg.quality=4`` or ``level=5``: more likely a mistyped option than a folder name."""
    return bool(_KEY_VALUE.match(Path(path).name)) and not Path(path).exists()


def check_output_path(path: Path | str, flag: str) -> None:
    """Warn when an output path looks like KEY=VALUE (e.g. ``-o jpeg.quality=4`` given to a
    flag that takes a folder): the command still runs, the user sees why a folder appeared."""
    if looks_like_option(path):
        note(f"warning: {flag} {path} looks like an option (KEY=VALUE), not a path; "
             f"writing to a folder of that name. Options are -o/--option TARGET.KEY=VALUE.")


def default_store(for_reading: bool = True) -> Path:
    """The results store a command uses without ``--store``: ``$CVB_STORE``, else
    ``cvb-out/results.sqlite`` (where ``cvb run`` and ``scripts/demo.sh`` write); a reader
    falls back to an older cvb's ``cvb-results.sqlite`` when only that one exists here."""
    import os

    from ..run.store import DEFAULT_STORE, LEGACY_STORE, STORE_ENV

    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env)
    path = Path(DEFAULT_STORE)
    if for_reading and not path.exists() and Path(LEGACY_STORE).is_file():
        note(f"note: reading {LEGACY_STORE} (the default store of older cvb versions; "
             f"new runs write {DEFAULT_STORE})")
        return Path(LEGACY_STORE)
    return path
