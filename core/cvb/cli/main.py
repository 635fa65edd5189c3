"""The ``cvb`` group, error-to-exit-status mapping, and plugin command discovery."""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import CvbError, UsageError

EXIT_USAGE = 2


class CvbGroup(click.Group):
    """Adds plugin commands (``register_commands``) the first time the group is used."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if not self._plugins_added:
            self._plugins_added = True
            from ..plugins import get_registry

            get_registry().add_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str):
        self._add_plugin_commands()
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        """A misspelt command gets the closest names (``cvb reprot`` -> did you mean 'report'?)."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            from ..errors import did_you_mean

            name = args[0] if args else ""
            guess = did_you_mean(name, self.list_commands(ctx)) if name and not name.startswith("-") else ""
            if not guess:
                raise
            raise click.UsageError(f"{exc.message.rstrip('.')}{guess}.", ctx) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except CvbError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=CvbGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cvb")
def cli() -> None:
    """CompressVLMBench: how vision-language models understand compressed images.

    \b
    Typical use:
      cvb list codecs                     what can run on this machine
      cvb compress --codec jpeg,webp      rate-distortion of codecs on images
      cvb run --codec jpeg --vlm V --task T   the codec x level x VLM x task matrix
      cvb report                          tables, BD-metrics, plots of a results store

    Plugins (entry-point group "cvb") add codecs, VLMs, tasks, metrics and commands;
    `cvb plugins` shows what is installed.
    """
    from ..pins import check_numpy_pin
    from ..threads import share_cores

    check_numpy_pin()  # a numpy 2 pulled in by a plugin's install: say who, before anything breaks
    share_cores()  # before any command imports torch


def _register_builtin_commands() -> None:
    from .list_cmd import list_cmd
    from .plugins_cmd import plugins_cmd
    from .compress_cmd import compress_cmd

    cli.add_command(plugins_cmd)
    cli.add_command(list_cmd)
    cli.add_command(compress_cmd)
    from .report_cmd import report_cmd
    from .run_cmd import export_cmd, run_cmd

    cli.add_command(run_cmd)
    cli.add_command(export_cmd)
    cli.add_command(report_cmd)
    from .cache_cmd import cache_cmd

    cli.add_command(cache_cmd)
    from .check_cmd import check_cmd

    cli.add_command(check_cmd)
    from .new_plugin_cmd import new_plugin_cmd

    cli.add_command(new_plugin_cmd)


_register_builtin_commands()


def main() -> None:
    sys.exit(cli.main(standalone_mode=True))
