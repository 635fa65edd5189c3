"""The report's tables as (title, header, rows of strings), and their text renderings.

One function per table decides the columns and the number formats; ``markdown``, ``rich`` and
the HTML renderer only lay them out, so a number reads the same in every format.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Iterable

LOW_OVERLAP = 0.75  # the bjontegaard package's warning threshold


class Reason(str):
    """A table cell that explains why a value is undefined (renderers may style it)."""


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""


def fmt(value, signed: bool = False) -> str:
    """Four significant digits, one decimal from 1000 up (MME sums), ``n/a`` for missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    v = float(value)
    sign = "+" if signed else ""
    if abs(v) >= 1000:
        return f"{v:{sign}.1f}"
    return f"{v:{sign}.4g}"


def fmt_p(value) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.2g}"


def section_title(section: dict) -> str:
    return f"{section['task']} x {section['vlm']}"


def cells_table(section: dict, metrics: list[str]) -> Table:
    sm = section["score_metric"]
    ref = section["reference"]
    clean = ref["score"] if ref else math.nan
    header = ["codec", "level", "bpp", sm, "vs clean", *metrics, "n", "failed"]
    rows = []
    for c in section["cells"]:
        delta = "" if c["codec"] == "none" else fmt(c["score"] - clean, signed=True)
        score = fmt(c["score"])
        if c.get("error") and not math.isfinite(c["score"]):
            score, delta = Reason(c["error"]), ""
        rows.append([c["codec"], c["level"], fmt(c["bpp"]), score, delta,
                     *[fmt(c["metrics"].get(m)) for m in metrics], str(c["n"]), str(c["n_failed"])])
    note = "" if ref else "no uncompressed (codec none) cell was run for this task x VLM"
    return Table(f"{section_title(section)}: {sm} per codec and level", header, rows, note)


def _bd_cell(result: dict, percent: bool = False) -> str:
    if result["value"] is None:
        return Reason(result["reason"] or "undefined")
    text = f"{result['value']:+.2f} %" if percent else fmt(result["value"], signed=True)
    if result.get("overlap") is not None and result["overlap"] < LOW_OVERLAP:
        text += f" (overlap {result['overlap']:.0%})"
    return text


def bd_table(section: dict, interp: str) -> Table:
    sm = section["score_metric"]
    header = ["codec", "anchor", "points", f"BD-{sm}", "BD-rate"]
    rows = [[r["codec"], r["anchor"], str(r["points"]), _bd_cell(r["bd_metric"]),
             _bd_cell(r["bd_rate"], percent=True)] for r in section["bd"]]
    better = "higher" if section["higher_is_better"] else "lower"
    note = (f"{interp} interpolation over log10(bpp); BD-{sm}: mean score difference at equal "
            f"rate ({better} {sm} is better); BD-rate: mean bitrate difference at equal score "
            f"(negative saves bits)")
    if not section["bd"]:
        note = "only one codec: nothing to compare with the anchor"
    return Table(f"{section_title(section)}: Bjontegaard deltas against {section['anchor']}",
                 header, rows, note)


def correlation_table(section: dict) -> Table:
    header = ["metric", "cells", "Pearson r", "p", "Spearman rho", "p"]
    rows = []
    for r in section["correlation"]:
        if r["reason"]:
            rows.append([r["metric"], str(r["n"]), Reason(r["reason"]), "", "", ""])
        else:
            rows.append([r["metric"], str(r["n"]), f"{r['pearson']:+.3f}", fmt_p(r["pearson_p"]),
                         f"{r['spearman']:+.3f}", fmt_p(r["spearman_p"])])
    return Table(f"{section_title(section)}: correlation of {section['score_metric']} with image metrics",
                 header, rows, "over the compressed cells (every codec and level)")


def gap_table(section: dict) -> Table | None:
    if not section["gap"]:
        return None
    adapted = section["gap"][0]["adapted_vlm"]
    header = ["codec", "level", "bpp", "clean", "compressed", "adapted", "total gap",
              "information gap", "generalization gap", "generalization share"]
    rows = []
    for g in section["gap"]:
        if g["reason"]:
            rows.append([g["codec"], g["level"], fmt(g["bpp"]), fmt(g["clean"]),
                         fmt(g["compressed"]), Reason(g["reason"]), "", "", "", ""])
            continue
        share = g["generalization_share"]
        rows.append([g["codec"], g["level"], fmt(g["bpp"]), fmt(g["clean"]), fmt(g["compressed"]),
                     fmt(g["adapted"]), fmt(g["total"]), fmt(g["information"]),
                     fmt(g["generalization"]), "n/a" if share is None or not math.isfinite(share)
                     else f"{share:.0%}"])
    return Table(f"{section_title(section)}: gap decomposition with {adapted}", header, rows,
                 "total = information + generalization; positive = score lost to compression")


def adapter_table(section: dict) -> Table | None:
    if not section["adapter_bd"]:
        return None
    adapted = section["adapter_bd"][0]["adapted_vlm"]
    rows = [[g["codec"], _bd_cell(g["bd_metric"])] for g in section["adapter_bd"]]
    return Table(f"{section_title(section)}: adapter gain of {adapted} (BD-{section['score_metric']})",
                 ["codec", f"BD-{section['score_metric']}"], rows,
                 "the adapted VLM's curve against the base VLM's, same codec; positive = better")


def section_tables(section: dict, metrics: list[str], interp: str) -> list[Table]:
    tables = [cells_table(section, metrics), bd_table(section, interp), correlation_table(section)]
    return tables + [t for t in (gap_table(section), adapter_table(section)) if t is not None]


# ---- renderings -----------------------------------------------------------------------------

_MD_SPECIAL = "\\<>&|"  # backslash-escaped: labels are text, never HTML nor a broken table row


def _md_escape(text: str) -> str:
    text = "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text))
    return text.replace("\r", " ").replace("\n", " ")


def markdown_table(table: Table) -> str:
    lines = [f"**{_md_escape(table.title)}**", ""]
    lines.append("| " + " | ".join(_md_escape(h) for h in table.header) + " |")
    lines.append("|" + "|".join("---" for _ in table.header) + "|")
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", f"_{_md_escape(table.note)}_"]
    return "\n".join(lines) + "\n"


def markdown_report(report: dict, images: dict[tuple[str, str], list[str]] | None = None) -> str:
    """The whole report as Markdown; ``images`` maps (task, vlm) to relative PNG paths."""
    out = ["# cvb report", "",
           f"Interpolation: {report['interp']}. Anchor: {report['anchor'] or 'jpeg if present, else the first codec'}.",
           ""]
    for s in report["sections"]:
        out += [f"## {_md_escape(section_title(s))}", ""]
        ref = s["reference"]
        out.append(f"Uncompressed {s['score_metric']}: {fmt(ref['score']) if ref else 'not run'}"
                   + (f"; {s['n_failed']} failed units" if s["n_failed"] else "") + ".")
        out.append("")
        for t in section_tables(s, report["metrics"], report["interp"]):
            out += [markdown_table(t)]
        for path in (images or {}).get((s["task"], s["vlm"]), []):
            out += [f"![{path}]({path})", ""]
    return "\n".join(out)


def rich_tables(report: dict) -> Iterable:
    """rich renderables for the terminal, section by section."""
    from rich.markup import escape
    from rich.rule import Rule
    from rich.table import Table as RichTable
    from rich.text import Text

    for s in report["sections"]:
        yield Rule(escape(section_title(s)))
        ref = s["reference"]
        yield Text(f"uncompressed {s['score_metric']}: {fmt(ref['score']) if ref else 'not run'}"
                   + (f"; {s['n_failed']} failed units" if s["n_failed"] else ""))
        for t in section_tables(s, report["metrics"], report["interp"]):
            # labels such as hf:X[mode=logits] or ssim[downsample=True] are text, not rich markup
            rt = RichTable(title=escape(t.title), caption=escape(t.note) if t.note else None,
                           title_justify="left")
            for i, h in enumerate(t.header):
                rt.add_column(escape(h), justify="left" if i < 2 else "right", overflow="fold")
            for row in t.rows:
                rt.add_row(*[Text(c, style="italic red", justify="left") if isinstance(c, Reason) else Text(str(c))
                             for c in row])
            yield rt


CSV_FIXED = ["task", "vlm", "codec", "level", "bpp", "score", "score_metric", "higher_is_better",
             "n", "n_failed", "error"]


def cells_csv(report: dict) -> str:
    """Every cell, full precision, one row each; metrics as columns, details as JSON."""
    import json

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    metrics = report["metrics"]
    w.writerow(CSV_FIXED + metrics + ["details"])
    for s in report["sections"]:
        for c in s["cells"]:
            vals = [c.get(k) for k in CSV_FIXED] + [c["metrics"].get(m) for m in metrics]
            w.writerow(["" if isinstance(v, float) and not math.isfinite(v) else
                        repr(v) if isinstance(v, float) else v for v in vals]
                       + [json.dumps(c["details"], sort_keys=True, default=str)])
    return buf.getvalue()
