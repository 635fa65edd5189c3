"""Option parsing shared by the commands: names, levels, and old spellings of
flags kept as hidden aliases (one vocabulary, docs/cli.md)."""

from __future__ import annotations

from typing import Iterable, Sequence

import click

from ..errors import UsageError


class Choice(click.Choice):
    """``click.Choice`` whose error adds the closest choices (``cvb list codec``: did you mean
    'codecs'?)."""

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            from ..errors import did_you_mean

            guess = did_you_mean(str(value), [str(c) for c in self.choices])
            if guess:
                exc.message = exc.message.rstrip(".") + guess + "."
            raise


class Aliased(click.Option):
    """An option whose older spellings (``hidden=("--output",)``) still work but are left out
    of ``--help`` and completion, so every command shows one vocabulary."""

    def __init__(self, *args, hidden: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden_names = set(hidden)

    def get_help_record(self, ctx):
        shown, saved = [o for o in self.opts if o not in self.hidden_names], self.opts
        self.opts = shown or saved
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = saved


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


def codec_levels(codec, requested: list[str] | None) -> list[str]:
    """Validated levels (lowest rate first): the requested ones, else the codec's defaults."""
    from ..codecs.base import sort_levels

    return sort_levels(codec, requested or list(codec.default_levels))
