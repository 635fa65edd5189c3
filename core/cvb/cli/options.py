"""Option parsing shared by the commands: names, levels, and old spellings of
flags kept as hidden aliases (one vocabulary, docs/cli.md)."""

from __future__ import annotations

import click

# the matrix's names and levels are parsed below the CLI (``cvb.options``); the commands import them from here too
from ..options import codec_levels, metric_names, parse_levels, split_csv  # noqa: F401 - re-exported


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
                self.fail(exc.message.rstrip(".") + guess + ".", param, ctx)
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
