"""``cvb cache info`` and ``cvb cache prune``: the compressed-image cache's size and eviction."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .output import json_result

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
        click.echo(json_result(info))
        return
    when = lambda t: "-" if t is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(t))
    click.echo(f"cache    {info['root']}{'' if cache.root.is_dir() else ' (does not exist yet)'}")
    click.echo(f"entries  {info['entries']} ({human_size(info['bytes'])})")
    click.echo(f"used     oldest {when(info['oldest'])}, newest {when(info['newest'])}")
    click.echo(f"cap      {human_size(cap) if cap else 'none'} (${MAX_SIZE_ENV})")
    if info["legacy_files"] or info["temporary_files"]:
        click.echo(f"leftover {info['legacy_files']} file(s) of an older cvb "
                   f"({human_size(info['legacy_bytes'])}), {info['temporary_files']} temporary "
                   f"file(s): `cvb cache prune` removes them")


@cache_cmd.command("show")
@click.argument("key")
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Results store whose answers name KEY (it knows the codec and settings that decode "
                   "it) [default: $CVB_STORE, else cvb-out/results.sqlite].")
@_CACHE_DIR
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the decoded image the VLM received here, as a lossless PNG.")
@click.option("--bits", "bits_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the bitstream here (the bytes bpp was measured from; for codec none, the original file).")
@click.option("--json", "as_json", is_flag=True, help="Print what is known of KEY as JSON.")
def show_cmd(key: str, store_path: Path | None, cache_dir: Path | None, out: Path | None,
             bits_out: Path | None, as_json: bool) -> None:
    """One image a VLM saw, by its KEY (the `key` column of `cvb export --what samples`).

    Prints its codec, level, settings, bpp and size; --out writes the decoded image exactly as
    the VLM received it (a lossless PNG whose pixels are those bytes), --bits the bitstream.
    A KEY of codec none (the original's content hash) gives the task's image file decoded as
    the run decoded it.

    \b
    Examples:
      cvb export --what samples --store r.sqlite | head      # the key of each answer
      cvb cache show 3f2a... --store r.sqlite --out seen.png
    """
    from ..run.seen_images import SeenImages, save_png
    from ..run.store import Store
    from .output import check_output_path, default_store

    with Store(store_path or default_store(), create=False) as store:
        seen = SeenImages(store, _cache(cache_dir))
        info = seen.describe(key)
        if out is not None:
            check_output_path(out, "--out")
            image = seen.image(key)
            save_png(image, out)
            info.update(width=image.width, height=image.height, written=str(out))
        if bits_out is not None:
            check_output_path(bits_out, "--bits")
            bits_out.parent.mkdir(parents=True, exist_ok=True)
            bits_out.write_bytes(seen.bits(key))
            info["bits_written"] = str(bits_out)
    if as_json:
        click.echo(json_result(info))
        return
    from ..options import format_params

    for name, value in info.items():
        if name == "params":
            value = format_params(value) or "(defaults)"
        click.echo(f"{name:<14}{'-' if value is None else value}")


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
