"""``cvb cache info`` and ``cvb cache prune``: the compressed-image cache's size and eviction."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

_CACHE_DIR = click.option(
    "--cache-dir", type=click.Path(file_okay=False, path_type=Path), envvar="CVB_CACHE_DIR",
    help="The compressed-image cache [default: the user cache dir's cvb/images; env CVB_CACHE_DIR].")


def _cache(cache_dir: Path | None):
    from ..run.image_cache import ImageCache, default_cache_dir

    return ImageCache(cache_dir or default_cache_dir())


@click.group("cache")
def cache_cmd() -> None:
    """The compressed-image cache that `cvb run` shares between runs and stores.

    Entries are content-addressed (image bytes, codec, version, level, settings), one file
    each. Deleting any of them, or the whole folder, is always safe: the results store keeps
    every number, and a run that needs a missing image compresses it again. `cvb run` keeps
    the cache under $CVB_CACHE_MAX_SIZE (default 50G; 'none' for no cap), least recently used
    entries first.
    """


@cache_cmd.command("info")
@_CACHE_DIR
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def info_cmd(cache_dir: Path | None, as_json: bool) -> None:
    """Where the cache is, how many entries and bytes it holds, and the cap runs apply."""
    from ..run.image_cache import MAX_SIZE_ENV, human_size, max_size_from_env

    cache = _cache(cache_dir)
    info = cache.summary()
    cap = max_size_from_env()
    info["max_bytes"] = cap
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    when = lambda t: "-" if t is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(t))  # noqa: E731
    click.echo(f"cache    {info['root']}{'' if cache.root.is_dir() else ' (does not exist yet)'}")
    click.echo(f"entries  {info['entries']} ({human_size(info['bytes'])})")
    click.echo(f"used     oldest {when(info['oldest'])}, newest {when(info['newest'])}")
    click.echo(f"cap      {human_size(cap) if cap else 'none'} (${MAX_SIZE_ENV})")
    if info["legacy_files"] or info["temporary_files"]:
        click.echo(f"leftover {info['legacy_files']} file(s) of an older cvb "
                   f"({human_size(info['legacy_bytes'])}), {info['temporary_files']} temporary "
                   f"file(s): `cvb cache prune` removes them")


@cache_cmd.command("prune")
@_CACHE_DIR
@click.option("--max-size", metavar="SIZE",
              help="Evict least recently used entries until the cache fits, e.g. 20G, 500M "
                   "[default: $CVB_CACHE_MAX_SIZE or 50G].")
@click.option("--older-than", type=click.FloatRange(min=0), metavar="DAYS",
              help="Also evict entries not used for this many days.")
@click.option("--all", "everything", is_flag=True, help="Remove every entry.")
@click.option("--dry-run", is_flag=True, help="Say what would go, remove nothing.")
def prune_cmd(cache_dir: Path | None, max_size: str | None, older_than: float | None, everything: bool,
              dry_run: bool) -> None:
    """Evict entries: down to a size cap, unused for some days, or all of them.

    Files left by killed writers and by older cvb versions always go. Results stores are
    never touched: a later run compresses again only what it needs.

    \b
    Examples:
      cvb cache prune                  # down to the cap
      cvb cache prune --max-size 5G
      cvb cache prune --older-than 30
      cvb cache prune --all --dry-run
    """
    from ..run.image_cache import human_size, max_size_from_env, parse_size

    cache = _cache(cache_dir)
    cap = parse_size(max_size) if max_size is not None else max_size_from_env()
    out = cache.prune(max_bytes=cap, older_than_s=older_than * 86400 if older_than is not None else None,
                      everything=everything, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {out['removed']} entries, {human_size(out['freed_bytes'])} freed; "
               f"{out['kept']} entries kept ({human_size(out['kept_bytes'])}) in {cache.root}")
