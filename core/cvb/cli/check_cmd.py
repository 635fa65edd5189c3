"""``cvb check codec|vlm|task|metric NAME``: the conformance kit from the command line."""

from __future__ import annotations

import json
import sys

import click

from ..errors import UsageError

SKIPPABLE = ("rate", "fidelity", "1x1", "odd", "large", "fresh")


@click.command("check")
@click.argument("category", type=click.Choice(["codec", "vlm", "task", "metric"]))
@click.argument("name")
@click.option("--option", "-o", "-O", "options", multiple=True, metavar="KEY=VALUE",
              help="An option of the component checked, e.g. -o pretrained=false (repeatable; -o as "
                   "in `cvb run`, -O is the same).")
@click.option("--levels", "-l", help="Codecs: levels to test, comma-separated (default: its defaults).")
@click.option("--images", "-i", "images", multiple=True,
              help="Codecs: photos to test on (files, folders, globs); default: two bundled sample photos.")
@click.option("--skip", "skips", multiple=True, type=click.Choice(SKIPPABLE),
              help="Codecs: leave a rule out (shown as skipped): rate (bpp rises with the level; "
                   "meaningless with random weights), fidelity (the decoded image resembles the "
                   "input; random weights give noise), 1x1, odd, large (the 4000x3000 image) or "
                   "fresh (decoding in a new process). Repeatable.")
@click.option("--timeout", type=click.FloatRange(min=0.001),
              help="Codecs: seconds one encode or decode may take (default 300); past it the rule fails "
                   "as a hang. Raise it for a slow codec (a diffusion model on CPU).")
@click.option("--limit", type=click.IntRange(min=2), default=24, show_default=True,
              help="Tasks: how many samples to check.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def check_cmd(category, name, options, levels, images, skips, timeout, limit, as_json) -> None:
    """Check that a plugin's codec, VLM, task or metric keeps cvb's rules.

    Prints one row per rule (pass, fail with the reason, skip with the reason, info) and
    exits 1 when a rule fails, 0 when all pass. NAME is what `cvb list` shows, with :ARG
    where the component takes one (hf:/path/to/checkpoint, folder:/my/images).

    \b
    All: the plugin loads light (no torch at import); the registered spec and the object
    agree (name, levels, kind, direction).
    Codecs: levels parse and run lowest rate first, bpp rises with the level on real photos,
    decode(encode(x)) is RGB of the original size and resembles the input (PSNR floor, or a
    perceptual bound for kind generative), the bitstream decodes in a fresh process,
    encoding is deterministic (unless the codec says otherwise), 1x1, odd and 4000x3000
    images work or are refused with CodecRefusal (a crash fails), no call hangs past --timeout.
    VLMs: version set, weights load lazily, one answer per query in order, not all answers
    empty, a batch answers as single queries do, close() frees the weights.
    Tasks: samples deterministic, limit a prefix, well formed; score a pure function.
    Metrics: finite, deterministic, better images score better, odd sizes.

    \b
    Examples:
      cvb check codec jpeg
      cvb check codec bmshj2018-factorized -O pretrained=false --skip rate --skip large
      cvb check vlm hf:/path/to/checkpoint
      cvb check task sample --limit 40
      cvb check metric ms-ssim
    """
    from .. import conformance
    from ..run.plan import coerce
    from .options import collect_images, split_csv

    opts = {}
    for raw in options:
        key, sep, value = raw.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-O {raw!r}: write KEY=VALUE (e.g. -O pretrained=false)")
        opts[key.strip()] = coerce(value.strip())
    codec_only = {"--levels": levels, "--images": images, "--skip": skips,
                  "--timeout": timeout}
    stray = [flag for flag, given in codec_only.items() if given and category != "codec"]
    if stray:
        raise UsageError(f"{', '.join(stray)} only apply to `cvb check codec`")
    _known(category, name)
    if category == "codec":
        skip = {s: "--skip on the command line" for s in skips}
        report = conformance.check_codec(name, options=opts, levels=split_csv(levels) or None,
                                         images=collect_images(images) if images else None, skip=skip,
                                         **({"timeout": timeout} if timeout else {}))
    elif category == "vlm":
        report = conformance.check_vlm(name, options=opts)
    elif category == "task":
        report = conformance.check_task(name, options=opts, limit=limit)
    else:
        report = conformance.check_metric(name, options=opts)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print(report)
    if not report.ok:
        sys.exit(1)


def _known(category: str, ref: str) -> None:
    """An unknown name is a usage error listing the known ones (exit 2), not a failed rule."""
    from ..plugins import get_registry
    from ..specs import split_ref

    get_registry().spec(category, split_ref(ref)[0])


def _print(report) -> None:
    from rich.markup import escape
    from rich.table import Table

    from .console import console

    colour = {"pass": "green", "fail": "red", "skip": "yellow", "info": "cyan"}
    table = Table(title=f"cvb check {report.category} {report.name}")
    for col in ("rule", "result", "detail", "s"):
        table.add_column(col, overflow="fold", justify="right" if col == "s" else "left")
    for r in report.results:
        table.add_row(escape(r.rule), f"[{colour[r.status]}]{r.status}[/]", escape(r.detail), f"{r.seconds:.2f}")
    console().print(table)
    console().print(("[green]" if report.ok else "[red]") + escape(report.summary()) + "[/]")
