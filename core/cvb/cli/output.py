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


def format_params(params) -> str:
    """Codec or component settings as a reader types them (``quality=90 subsampling=4:4:4``),
    never a Python repr; empty for none."""
    if not params:
        return ""
    if isinstance(params, str):
        return params
    out = []
    for key in sorted(params):
        value = params[key]
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        out.append(f"{key}={value}")
    return " ".join(out)
