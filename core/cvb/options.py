"""Coercing component options, which arrive as strings from the command line.

A factory gets ``key=value`` options as typed Python values from code and as strings from
``--codec-opt``-style flags; these helpers accept both and turn a bad value into a
``UsageError`` that names the option and what it accepts (exit status 2, not a traceback).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from .errors import UsageError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def as_bool(owner: str, name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"{owner}: option {name}={value!r} is not a boolean (use true or false)")


def as_int(owner: str, name: str, value: object, lo: int | None = None, hi: int | None = None) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else int(value)
    except ValueError:
        raise UsageError(f"{owner}: option {name}={value!r} is not an integer") from None
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise UsageError(f"{owner}: option {name}={number} is outside {lo}..{hi}")
    return number


def as_float(owner: str, name: str, value: object, lo: float | None = None) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"{owner}: option {name}={value!r} is not a number") from None
    if lo is not None and number < lo:
        raise UsageError(f"{owner}: option {name}={number} must be at least {lo}")
    return number


def as_choice(owner: str, name: str, value: object, choices: Iterable[str]) -> str:
    text = str(value).strip()
    allowed = list(choices)
    if text not in allowed:
        raise UsageError(f"{owner}: option {name}={value!r}; choose one of {', '.join(allowed)}")
    return text


def reject_unknown(owner: str, given: Mapping[str, object], known: Iterable[str]) -> None:
    """Raise for options the component does not have, listing the ones it does."""
    if given:
        names = ", ".join(sorted(given))
        raise UsageError(f"{owner}: unknown option(s) {names}; known: {', '.join(sorted(known)) or '(none)'}")


def format_params(params: Mapping[str, object] | str | None) -> str:
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
