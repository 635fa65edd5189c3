"""``cvb compress``: the rate-distortion bench (being written)."""

import click


@click.command("compress")
def compress_cmd() -> None:
    """Rate-distortion bench of codecs x levels over images."""
    raise click.ClickException("not yet implemented")
