"""A self-contained ``report.html``: inline CSS, tables, plots as base64 data URIs.

No script, font, stylesheet or image is fetched from anywhere, so the file can be mailed,
archived or opened on an offline machine and looks the same.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from .provenance import provenance_lines
from .tables import (
    DEFAULT_ANCHOR_WORDS, Reason, Table, fmt, inference_words, section_figures, section_tables, section_title,
)

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
div.scroll { overflow-x: auto; max-width: 100%; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; margin: 0.5em 0 0.3em; font-variant-numeric: tabular-nums; }
p.caption { font-weight: 600; margin: 1.2em 0 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; vertical-align: top; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }
td.reason { color: #a33; text-align: left; min-width: 16em; max-width: 28em; }
p.note { color: #666; font-size: 0.9em; margin-top: 0; }
figure { margin: 1em 0; } figcaption { color: #444; font-size: 0.9em; max-width: 60em; }
img { max-width: min(100%, 900px); border: 1px solid #eee; }
nav ul { columns: 2; } figcaption a { margin-right: 0.4em; }
code { overflow-wrap: anywhere; }  /* long paths and commands wrap on a phone */
dl.read dt { font-weight: 600; margin-top: 0.4em; } dl.read dd { margin-left: 1.2em; }
@media (max-width: 600px) { body { margin: 1em auto; padding: 0 0.6em; } nav ul { columns: 1; } }
"""


def html_table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = []
    for row in table.rows:
        tds = []
        for cell in row:
            cls = ' class="reason"' if isinstance(cell, Reason) else ""
            tds.append(f"<td{cls}>{escape(cell)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    # the title above the scroll container: it wraps at the page's width, the table scrolls
    return (f'<p class="caption">{escape(table.title)}</p><div class="scroll"><table '
            f'aria-label="{escape(table.title)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>{note}")


def data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


PROTOCOLS = {
    "cvb": "cvb's own scoring rules (docs/scoring-protocols.md)",
    "lmms-eval": "lmms-eval's scoring rule, reimplemented and checked against lmms-eval's code",
    "vlmevalkit": "VLMEvalKit's scoring rule, reimplemented and checked against VLMEvalKit's code",
}


def level_meanings(report: dict) -> list[str]:
    """Per codec of the report: its levels and which way the measured rate goes with them."""
    from .cells_table import level_number

    out = []
    seen: dict[str, list] = {}
    for s in report["sections"]:
        for c in s["cells"]:
            if c["codec"] != "none" and c["bpp"] == c["bpp"]:
                seen.setdefault(c["codec"], []).append((c["level"], c["bpp"]))
    for codec, pts in seen.items():
        by_level: dict[str, list] = {}
        for level, bpp in pts:
            by_level.setdefault(level, []).append(bpp)
        means = [(lv, sum(b) / len(b)) for lv, b in by_level.items()]
        nums = [(level_number(lv), b) for lv, b in means]
        text = f"{codec}: levels {', '.join(lv for lv, _ in sorted(means, key=lambda m: m[1]))} (lowest rate first)"
        if len(nums) > 1 and all(n is not None for n, _ in nums):
            nums.sort()
            rates = [b for _, b in nums]
            if all(a < b for a, b in zip(rates, rates[1:])):
                text += "; a higher level gives more bits (a quality setting)"
            elif all(a > b for a, b in zip(rates, rates[1:])):
                text += "; a higher level gives fewer bits (a quantizer or compression ratio)"
        out.append(text)
    return out


def how_to_read(report: dict) -> str:
    """What the page's words mean: protocol, levels, the uncompressed row, the verdict."""
    items = []
    protocols = sorted({s.get("protocol") or "cvb" for s in report["sections"]})
    items.append(("protocol", "; ".join(f"<b>{escape(p)}</b>: {escape(PROTOCOLS.get(p, 'a peer scoring rule'))}"
                                         for p in protocols) + ". It is part of each section's title."))
    levels = level_meanings(report)
    if levels:
        items.append(("level", "the codec's own setting (quality, QP, compression ratio; "
                               "<code>cvb list codecs</code> and docs/codecs.md say which). In this report: "
                      + "; ".join(escape(x) for x in levels) + "."))
    items.append(("none, bpp 24", "the row of codec <b>none</b> is the uncompressed image the others are "
                                  "compared with; its 24 bpp is the nominal rate of 8-bit RGB (no "
                                  "measured bitrate: the cells table leaves it empty, and no curve "
                                  "plots it)."))
    words = inference_words(report)
    if words:
        items.append(("CI, p and *", escape(words)))
    return ('<details open><summary><b>How to read this report</b></summary><dl class="read">'
            + "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl></details>")


def html_report(report: dict, images: dict | None = None) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>cvb report</title>", f"<style>{CSS}</style></head><body>",
             "<h1>cvb report</h1>",
             f"<p>Interpolation: {escape(report['interp'])}. Anchor: "
             f"{escape(report['anchor'] or DEFAULT_ANCHOR_WORDS)}.</p>",
             how_to_read(report)]
    if report.get("sample_browser"):
        parts.append(f'<p><a href="{escape(report["sample_browser"])}">Sample browser</a>: chosen samples '
                     f"at every codec and level, the images the models saw, each model's answer.</p>")
    sections = report["sections"]
    if sections:
        parts.append("<nav><ul>" + "".join(
            f'<li><a href="#s{i}">{escape(section_title(s))}</a></li>' for i, s in enumerate(sections)
        ) + "</ul></nav>")
    else:
        parts.append("<p>No results.</p>")
    for i, s in enumerate(sections):
        parts.append(f'<h2 id="s{i}">{escape(section_title(s))}</h2>')
        ref = s["reference"]
        parts.append(f"<p>Uncompressed {escape(s['score_metric'])}: "
                     f"<b>{escape(fmt(ref['score']) if ref else 'not run')}</b>"
                     + (f"; {s['n_failed']} failed units" if s["n_failed"] else "") + ".</p>")
        for fig in section_figures(images, s, sections[:i]):
            links = " ".join(f'<a href="{escape(p.name)}">{p.suffix[1:].upper()}</a>' for p in fig.files)
            parts.append(f'<figure><img alt="{escape(fig.caption)}" src="{data_uri(fig.png)}">'
                         f"<figcaption>{escape(fig.caption)} Files beside this page: {links}"
                         f"</figcaption></figure>")
        for t in section_tables(s, report["metrics"], report["interp"]):
            parts.append(html_table(t))
    lines = provenance_lines(report.get("provenance"))
    if lines:
        parts.append('<h2 id="provenance">Provenance</h2><ul class="prov">'
                     + "".join(f"<li><code>{escape(x)}</code></li>" for x in lines) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
