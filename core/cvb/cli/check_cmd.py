"""``cvb check codec|vlm|task|metric NAME``: the conformance kit from the command line."""

from __future__ import annotations

import sys

import click

from ..errors import UsageError
from . import complete
from .options import Aliased, Choice

SKIPPABLE = ("rate", "fidelity", "1x1", "odd", "large", "fresh")


@click.command("check")
@click.argument("category", type=Choice(["codec", "vlm", "task", "metric"]))
@click.argument("name", shell_complete=complete.component_name)
@click.option("--option", "-o", "-O", "options", multiple=True, metavar="[TARGET.]KEY=VALUE", cls=Aliased,
              hidden=("-O",), shell_complete=complete.options,
              help="An option of the component checked, as in `cvb run`: -o NAME.KEY=VALUE or "
                   "-o CATEGORY.KEY=VALUE (e.g. -o jpeg.subsampling=4:4:4, -o codec.pretrained=false), "
                   "or plain KEY=VALUE. Repeatable.")
@click.option("--levels", "-l", "levels", multiple=True, shell_complete=complete.levels,
              help="Codecs: levels to test, as in `cvb run`: L1,L2 or NAME=L1,L2 (default: its defaults).")
@click.option("--images", "-i", "images", multiple=True,
              help="Codecs: photos to test on (files, folders, globs); default: two bundled sample photos.")
@click.option("--skip", "skips", multiple=True, type=Choice(SKIPPABLE),
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
      cvb check codec bmshj2018-factorized -o codec.pretrained=false --skip rate --skip large
      cvb check vlm hf:/path/to/checkpoint
      cvb check task sample --limit 40
      cvb check metric ms-ssim
    """
    from .. import conformance
    from ..imageio import collect_images

    codec_only = {"--levels": levels, "--images": images, "--skip": skips, "--timeout": timeout}
    stray = [flag for flag, given in codec_only.items() if given and category != "codec"]
    if stray:
        raise UsageError(f"{', '.join(stray)} only apply to `cvb check codec`")
    _known(category, name)
    opts = _options(options, category, name)
    made = _made(category, name, opts)
    wanted = _levels(levels, name, made) if category == "codec" else None
    if category == "codec":
        skip = {s: "--skip on the command line" for s in skips}
        report = conformance.check_codec(name, options=opts, levels=wanted,
                                         images=collect_images(images) if images else None, skip=skip,
                                         **({"timeout": timeout} if timeout else {}))
    elif category == "vlm":
        report = conformance.check_vlm(name, options=opts)
    elif category == "task":
        report = conformance.check_task(name, options=opts, limit=limit)
    else:
        report = conformance.check_metric(name, options=opts)
    if as_json:
        from .output import json_result

        click.echo(json_result(report.as_dict()))
    else:
        _print(report)
    if not report.ok:
        sys.exit(1)


def _options(values, category: str, ref: str) -> dict:
    """``-o`` as `cvb run` reads it (NAME.KEY=VALUE, CATEGORY.KEY=VALUE) or plain KEY=VALUE;
    a target that is not this component, or a key its factory does not take, is a usage error
    (exit 2) before any rule runs, never a failed check."""
    from ..errors import did_you_mean
    from ..plugins import get_registry
    from ..options import coerce
    from ..run.plan import check_options
    from ..specs import split_ref

    name = split_ref(ref)[0]
    opts = {}
    for raw in values:
        target, sep, value = raw.partition("=")
        prefix, dot, key = target.strip().rpartition(".")
        if not dot:
            key = target.strip()
        elif prefix not in (category, name, ref):
            raise UsageError(f"-o {raw!r} names {prefix!r}, not the {category} checked"
                             f"{did_you_mean(prefix, [category, name])}; write -o {name}.KEY=VALUE, "
                             f"-o {category}.KEY=VALUE or -o KEY=VALUE")
        if not sep or not key:
            raise UsageError(f"-o {raw!r}: write [TARGET.]KEY=VALUE (e.g. -o {name}.KEY=VALUE)")
        opts[key] = coerce(value.strip())
    check_options(get_registry(), category, ref, opts)
    return opts


def _made(category: str, ref: str, opts: dict):
    """A codec or metric created once up front (both are cheap to make): a bad option value
    the factory refuses is a usage error (exit 2) here, not a failed `create` rule. None for
    VLMs and tasks (making one may load weights or data: the rules do it) or when creating
    fails otherwise (the `create` rule reports that)."""
    from ..plugins import get_registry
    from ..run.plan import create

    if category not in ("codec", "metric"):
        return None
    try:
        return create(get_registry(), category, ref, opts)
    except UsageError:
        raise
    except Exception:  # noqa: BLE001 - unusable here: the create rule says why
        return None


def _levels(values, ref: str, codec) -> list[str] | None:
    """``-l`` as `cvb run` reads it (L1,L2 or NAME=L1,L2), each level checked by the codec: a bad
    level is a usage error (exit 2), not a failed rule."""
    from ..specs import split_ref
    from .options import codec_levels, parse_levels

    if not values:
        return None
    name = split_ref(ref)[0]
    levels = parse_levels(values, [name]).get(name)
    return levels if codec is None else codec_levels(codec, levels)


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
