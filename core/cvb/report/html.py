"""A self-contained ``report.html``: inline CSS, tables, plots as base64 data URIs.

No script, font, stylesheet or image is fetched from anywhere, so the file can be mailed,
archived or opened on an offline machine and looks the same.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from .provenance import provenance_lines
from .tables import Reason, Table, fmt, section_tables, section_title

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 0.3em; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; vertical-align: top; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }
td.reason { color: #a33; text-align: left; max-width: 28em; }
p.note { color: #666; font-size: 0.9em; margin-top: 0; }
figure { margin: 1em 0; } figcaption { color: #444; font-size: 0.9em; max-width: 60em; } img { max-width: 100%; border: 1px solid #eee; }
nav ul { columns: 2; }
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
    return (f"<table><caption>{escape(table.title)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{note}")


def data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def section_figures(images: dict | None, section: dict, before: list[dict]) -> list:
    """The figures of one section; the per-task figure of every VLM goes with the task's first."""
    images = images or {}
    first = not any(b["task"] == section["task"] for b in before)
    return (images.get((section["task"], ""), []) if first else []) + \
        images.get((section["task"], section["vlm"]), [])


def html_report(report: dict, images: dict | None = None) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>cvb report</title>", f"<style>{CSS}</style></head><body>",
             "<h1>cvb report</h1>",
             f"<p>Interpolation: {escape(report['interp'])}. Anchor: "
             f"{escape(report['anchor'] or 'jpeg if present, else the first codec')}.</p>"]
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
            parts.append(f'<figure><img alt="{escape(fig.caption)}" src="{data_uri(fig.png)}">'
                         f"<figcaption>{escape(fig.caption)} ({escape(fig.png.stem)}: PNG, SVG, PDF)"
                         f"</figcaption></figure>")
        for t in section_tables(s, report["metrics"], report["interp"]):
            parts.append(html_table(t))
    lines = provenance_lines(report.get("provenance"))
    if lines:
        parts.append('<h2 id="provenance">Provenance</h2><ul class="prov">'
                     + "".join(f"<li><code>{escape(x)}</code></li>" for x in lines) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
