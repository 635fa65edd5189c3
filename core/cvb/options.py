"""Options as they arrive from the command line: component options and the matrix's names.

A factory gets ``key=value`` options as typed Python values from code and as strings from
``--codec-opt``-style flags; ``as_bool`` and its kin accept both and turn a bad value into a
``UsageError`` that names the option and what it accepts (exit status 2, not a traceback).
``parse_options`` and ``options_for`` read ``-o TARGET.KEY=VALUE``; ``split_csv``,
``parse_levels``, ``metric_names`` and ``codec_levels`` the comma lists of
``--codec``/``--levels``/``--metric``: below the CLI, so the run planner, ``cvb.api`` and a
plugin's own command use them without loading click.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

from .errors import UsageError
from .specs import split_ref

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


#: the targets of ``-o CATEGORY.KEY=VALUE``
OPTION_CATEGORIES = ("vlm", "codec", "task", "metric")


def coerce(value: str) -> Any:
    """``"3"`` -> 3, ``"0.5"`` -> 0.5, ``"true"`` -> True; anything else stays a string."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, (int, float, bool)) else value


def parse_options(values: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``-o CATEGORY.KEY=VALUE`` (every component of that category) or ``-o NAME.KEY=VALUE``
    (only the component called NAME, e.g. ``-o mmbench.circular=true``), by target."""
    out: dict[str, dict[str, Any]] = {c: {} for c in OPTION_CATEGORIES}
    for raw in values:
        target, sep, value = raw.partition("=")
        name, dot, key = target.strip().rpartition(".") if "." in target else ("", "", "")
        if not sep or not dot or not name or not key:
            raise UsageError(f"-o {raw!r}: write CATEGORY.KEY=VALUE with CATEGORY one of "
                             f"{', '.join(OPTION_CATEGORIES)}, or NAME.KEY=VALUE for one component "
                             f"(e.g. -o vlm.max_new_tokens=16, -o mmbench.circular=true)")
        out.setdefault(name.strip(), {})[key.strip()] = coerce(value.strip())
    return out


def options_for(opts: Mapping[str, Mapping[str, Any]], category: str, ref: str) -> dict[str, Any]:
    """A component's options: its category's, overridden by those naming it."""
    return {**opts[category], **opts.get(split_ref(ref)[0], {})}


def metric_names(values: Iterable[str] | str | None) -> list[str]:
    """``--metric`` values as a list of names; ``none`` alone means no metric at all."""
    names = split_csv(values)
    if "none" in names:
        if len(names) > 1:
            raise UsageError(f"--metric none turns image-quality metrics off; it cannot be combined with "
                             f"other metrics (got {','.join(names)}): give --metric none, or only metrics")
        return []
    return names


def split_csv(values: Iterable[str] | str | None) -> list[str]:
    """``("jpeg,webp", "avif")`` -> ``["jpeg", "webp", "avif"]`` (order kept, no duplicates)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for v in values:
        for item in v.split(","):
            item = item.strip()
            if item and item not in out:
                out.append(item)
    return out


def parse_levels(values: Sequence[str], codecs: Sequence[str]) -> dict[str, list[str]]:
    """``--levels jpeg=1,5,10 --levels webp=10`` or, with a single codec, ``--levels 1,5,10``."""
    out: dict[str, list[str]] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if sep:
            if name.strip() not in codecs:
                raise UsageError(f"--levels {value!r} names codec {name.strip()!r}, "
                                 f"which is not among --codec {', '.join(codecs)}")
            codec, levels = name.strip(), split_csv(rest)
        elif len(codecs) == 1:
            codec, levels = codecs[0], split_csv(value)
        else:
            raise UsageError(f"--levels {value!r} is ambiguous with several codecs; "
                             f"write --levels CODEC=L1,L2 (codecs: {', '.join(codecs)})")
        if not levels:  # `-l jpeg=` must not silently fall back to the defaults
            raise UsageError(f"--levels {value!r} gives no level for codec {codec!r}")
        out[codec] = levels
    return out


def codec_levels(codec: Any, requested: list[str] | None) -> list[str]:
    """Validated levels (lowest rate first): the requested ones, else the codec's defaults."""
    from .codecs.base import sort_levels

    return sort_levels(codec, requested or list(codec.default_levels))
