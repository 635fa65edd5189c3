"""The report's tables as (title, header, rows of strings), and their text renderings.

One function per table decides the columns and the number formats; ``markdown``, ``rich`` and
the HTML renderer only lay them out, so a number reads the same in every format.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from ..analysis.stats import ALPHA
from .provenance import provenance_lines
from .table import Reason, Table

#: how the report names the anchor when none was asked for (``build._resolve_anchor``)
DEFAULT_ANCHOR_WORDS = "the codec the run named first, else the first codec"
LOW_OVERLAP = 0.75  # the bjontegaard package's warning threshold




def fmt(value, signed: bool = False, decimals: int | None = None) -> str:
    """A number with ``decimals`` places (None: four significant digits, one decimal from 1000
    up), ``n/a`` for missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    v = float(value)
    sign = "+" if signed else ""
    if decimals is not None:
        return f"{v:{sign}.{decimals}f}"
    if abs(v) >= 1000:
        return f"{v:{sign}.1f}"
    return f"{v:{sign}.4g}"


def decimals_for(values: Iterable) -> int:
    """One number of decimals for a whole column, from its largest magnitude: 4 below 1
    (SSIM, fractions), 2 below 1000 (%, dB, F1), 1 from 1000 up (MME sums)."""
    finite = [abs(float(v)) for v in values
              if v is not None and isinstance(v, (int, float)) and math.isfinite(v)]
    top = max(finite, default=0.0)
    return 4 if top < 1 else 2 if top < 1000 else 1


def fmt_p(value) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if value < 0.001:
        return "<0.001"
    text = f"{value:.3f}"
    if (float(text) < ALPHA) != (value < ALPHA):  # 0.0496 is no "0.050" beside a star
        text = f"{value:.4f}"
    return text


def fmt_ci(ci, decimals: int, signed: bool = False) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f"{fmt(ci[0], signed, decimals)}..{fmt(ci[1], signed, decimals)}"


def section_title(section: dict) -> str:
    judge = f", judge {section['judge']}" if section.get("judge") else ""
    protocol = f" (protocol {section['protocol']}{judge})" if section.get("protocol") else ""
    return f"{section['task']} x {section['vlm']}{protocol}"


def _confidence(section: dict) -> str:
    return f"{round(100 * section.get('confidence', 0.95))}%"


#: scores measured against the uncompressed cell itself: its own row is no measurement
RELATIVE_SCORES = {"consistency"}
#: extra columns of a score's graded details: {score metric: {detail key: column heading}}
GRADED_DETAILS = {"consistency": {"consistency_word_f1": "word F1"}}
TEST_NAMES = {"mcnemar": "exact McNemar (questions as independent)",
              "cluster bootstrap": "paired cluster bootstrap over images"}
CI_NAMES = {"wilson": "Wilson (questions as independent)", "cluster bootstrap": "cluster bootstrap over images"}


def inference_words(report: dict) -> str:
    """The report's verdict method in one sentence (Markdown and HTML heads)."""
    inf = report.get("inference") or {}
    if not inf:
        return ""
    conf = inf.get("confidence", 0.95)
    alpha = f"{1 - conf:.2g}"
    if report.get("sections") and all((s.get("uncertainty") or {}).get("reason") for s in report["sections"]):
        return "no intervals or tests could be resampled here; each table's note says why."
    if inf.get("method") == "mcnemar":
        return (f"{inf['name']}: plain accuracies get Wilson score intervals, exact McNemar p-values "
                f"and the matching exact interval of the change (other scores: paired cluster "
                f"bootstrap over images, {inf['resamples']} resamples, seed {inf['seed']}); * marks p < "
                f"{alpha}, exactly when the change's interval excludes 0.")
    return (f"{inf['name']}: the score's {round(100 * conf)}% interval, the change's (delta's) interval "
            f"and its p-value come from the same {inf['resamples']} resamples of the task's images "
            f"(seed {inf['seed']}); * marks p < {alpha}, exactly when the delta interval excludes 0.")


def method_note(section: dict, what: str = "CI, delta CI, p and *") -> str:
    """The verdict's method, resamples and seed, as every table footer says it."""
    unc = section.get("uncertainty") or {}
    tests = sorted({TEST_NAMES.get(c.get("test"), c.get("test")) for c in section["cells"] if c.get("test")})
    if not tests:
        return ""
    draws = (f" ({unc['resamples']} resamples, seed {unc['seed']})"
             if unc.get("resamples") and not unc.get("reason") else "")
    conf = _confidence(section)
    return (f"{what}: {' / '.join(tests)}{draws}; * marks p < {1 - section.get('confidence', 0.95):.2g}, "
            f"exactly when the {conf} delta CI excludes 0")


def bootstrap_note(section: dict) -> str:
    """"paired cluster bootstrap over images (1000 resamples, seed S)" of a section."""
    unc = section.get("uncertainty") or {}
    draws = f" ({unc['resamples']} resamples, seed {unc['seed']})" if unc.get("resamples") else ""
    return TEST_NAMES["cluster bootstrap"] + draws


@dataclass(frozen=True)
class _CellColumns:
    """Which optional columns a section's cells table has, and each number column's decimals."""

    score_metric: str
    metrics: list[str]
    graded: list[str]  # GRADED_DETAILS of the score metric that some cell has
    has_ci: bool
    has_dci: bool
    has_p: bool
    show_n: bool
    show_failed: bool
    score_dec: int
    metric_dec: dict[str, int]

    @classmethod
    def of(cls, section: dict, metrics: list[str]) -> "_CellColumns":
        sm, cells = section["score_metric"], section["cells"]
        return cls(
            score_metric=sm, metrics=metrics,
            graded=[k for k in GRADED_DETAILS.get(sm, ()) if any(k in c["details"] for c in cells)],
            has_ci=any(c.get("ci") for c in cells), has_dci=any(c.get("delta_ci") for c in cells),
            has_p=any(c.get("p") is not None for c in cells), show_n=len({c["n"] for c in cells}) > 1,
            show_failed=any(c["n_failed"] for c in cells),
            score_dec=decimals_for([c["score"] for c in cells] + [x for c in cells for x in (c.get("ci") or [])]),
            metric_dec={m: decimals_for(c["metrics"].get(m) for c in cells) for m in metrics})

    def header(self, conf: str) -> list[str]:
        sm = self.score_metric
        return ["codec", "level", "bpp", sm, *([f"{conf} CI"] if self.has_ci else []), "delta",
                *([f"delta {conf} CI"] if self.has_dci else []), *(["p"] if self.has_p else []),
                *(GRADED_DETAILS[sm][k] for k in self.graded), *self.metrics,
                *(["n"] if self.show_n else []), *(["failed"] if self.show_failed else [])]

    def row(self, c: dict) -> list:
        reference = c["codec"] == "none"
        score: str = fmt(c["score"], decimals=self.score_dec)
        delta = "" if reference else fmt(c.get("delta", math.nan), True, self.score_dec)
        if not reference and c.get("significant"):
            delta += "*"
        if c.get("error") and not math.isfinite(c["score"]):
            score, delta = Reason(c["error"]), ""
        relative = reference and self.score_metric in RELATIVE_SCORES  # measured against itself: always 100
        if relative:
            score, delta = "(ref.)", ""
        row = [c["codec"], c["level"], fmt(c["bpp"], decimals=3), score]
        if self.has_ci:
            row.append("" if relative else fmt_ci(c.get("ci"), self.score_dec))
        row.append(delta)
        if self.has_dci:
            row.append("" if reference else fmt_ci(c.get("delta_ci"), self.score_dec, signed=True))
        if self.has_p:
            row.append("" if reference else fmt_p(c.get("p")))
        row += ["" if reference else fmt(c["details"].get(k), decimals=2) for k in self.graded]
        row += ["" if reference else fmt(c["metrics"].get(m), decimals=self.metric_dec[m]) for m in self.metrics]
        if self.show_n:
            row.append(str(c["n"]))
        if self.show_failed:
            row.append(str(c["n_failed"]))
        return row


def cells_table(section: dict, metrics: list[str]) -> Table:
    """Scores of one task x VLM with interval, change against the uncompressed cell, the
    change's interval and p-value, all from one method (``method_note``).

    Every number column has one number of decimals; ``cvb run`` prints this same table.
    """
    cols = _CellColumns.of(section, metrics)
    rows = [cols.row(c) for c in section["cells"]]
    return Table(f"{section_title(section)}: {cols.score_metric} per codec and level",
                 cols.header(_confidence(section)), rows, "; ".join(_cells_notes(section, cols)))


def _cells_notes(section: dict, cols: _CellColumns) -> list[str]:
    """The cells table's notes: what delta means, n, the methods, warnings."""
    sm, cells = cols.score_metric, section["cells"]
    notes = []
    if not section["reference"]:
        notes.append("no uncompressed (codec none) cell was run for this task x VLM")
    else:
        notes.append(f"delta = {sm} - uncompressed {sm} (row none: bpp 24 = uncompressed 8-bit RGB)")
    if not cols.show_n and cells:
        notes.append(f"n = {cells[0]['n']} samples per cell")
    methods = sorted({CI_NAMES.get(c.get("ci_method"), c.get("ci_method")) for c in cells if c.get("ci_method")})
    verdict = method_note(section)
    if verdict:
        notes.append(verdict)
    if cols.has_ci and methods != ["cluster bootstrap over images"]:
        notes.append(f"score CI: {' / '.join(methods)}")
    if sm in RELATIVE_SCORES:
        notes.append(f"{sm} compares each answer with the answer on the uncompressed image")
    if cols.graded:
        notes.append("word F1: graded agreement of free-text answers with the uncompressed ones")
    notes += [f"warning: {w}" for w in section.get("warnings") or []]
    unc = section.get("uncertainty") or {}
    if unc.get("reason"):
        notes.append(f"no intervals: {unc['reason']}")
    return notes


def _bd_cell(result: dict, percent: bool = False) -> str:
    if result["value"] is None:
        return Reason(" ".join(str(result["reason"] or "undefined").split()))  # one line in a table cell
    text = f"{result['value']:+.2f} %" if percent else fmt(result["value"], True, 2)
    if result.get("overlap") is not None and result["overlap"] < LOW_OVERLAP:
        text += f" (overlap {result['overlap']:.0%})"
    return text


def bd_table(section: dict, interp: str) -> Table:
    sm = section["score_metric"]
    has_ci = any((r["bd_metric"] or {}).get("ci") for r in section["bd"])
    header = ["codec", "anchor", "points", f"BD-{sm}"] + (["95% CI"] if has_ci else []) + ["BD-rate"]
    rows = []
    for r in section["bd"]:
        row = [r["codec"], r["anchor"], str(r["points"]), _bd_cell(r["bd_metric"])]
        if has_ci:
            row.append(fmt_ci(r["bd_metric"].get("ci"), 2, signed=True))
        rows.append(row + [_bd_cell(r["bd_rate"], percent=True)])
    better = "higher" if section["higher_is_better"] else "lower"
    note = (f"{interp} interpolation over log10(bpp); BD-{sm}: mean score difference at equal "
            f"rate ({better} {sm} is better); BD-rate: mean bitrate difference at equal score "
            f"(negative saves bits)" + (f"; CI: {bootstrap_note(section)}, both curves rescored on "
                                       f"each resample" if has_ci else ""))
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
    has_ci = any(g.get("generalization_ci") for g in section["gap"])
    has_cond = any(g.get("condition") for g in section["gap"])
    header = ["codec", "level", "compr.", "adapted", "total", "info", "general."] \
        + (["gen. CI"] if has_ci else []) + ["share"] + (["condition"] if has_cond else [])
    dec = decimals_for(g[k] for g in section["gap"] for k in ("clean", "compressed", "adapted"))
    rows = []
    for g in section["gap"]:
        if g["reason"]:
            rows.append([g["codec"], g["level"], fmt(g["compressed"], decimals=dec), Reason(g["reason"])]
                        + [""] * (len(header) - 4))
            continue
        share = g["generalization_share"]
        rows.append([g["codec"], g["level"], fmt(g["compressed"], decimals=dec), fmt(g["adapted"], decimals=dec),
                     *[fmt(g[k], True, dec) for k in ("total", "information", "generalization")]]
                    + ([fmt_ci(g.get("generalization_ci"), dec, signed=True)] if has_ci else [])
                    + ["n/a" if share is None or not math.isfinite(share) else f"{share:.0%}"]
                    + ([g.get("condition") or "-"] if has_cond else []))
    clean = next((g["clean"] for g in section["gap"] if g["clean"] is not None and math.isfinite(g["clean"])), None)
    return Table(f"{section_title(section)}: gap decomposition with {adapted}", header, rows,
                 f"scores on compressed images (compr.) and of the adapted model (adapted) against the "
                 f"uncompressed {fmt(clean, decimals=dec)}; total gap = information gap (info) + "
                 f"generalization gap (general.); share = generalization / total; positive = score "
                 f"lost to compression"
                 + (f"; gen. CI: {bootstrap_note(section)} (above 0: adaptation wins back a "
                    "significant part)" if has_ci else "")
                 + ("; condition: what the adapted answers were conditioned on (answers per value "
                    "when they differ)" if has_cond else ""))


def adapter_table(section: dict) -> Table | None:
    """The adapter's BD gain per codec (when there is no per-codec summary, which holds it)."""
    if not section["adapter_bd"] or section.get("gap_summary"):
        return None
    adapted = section["adapter_bd"][0]["adapted_vlm"]
    sm = section["score_metric"]
    has_ci = any(g["bd_metric"].get("ci") for g in section["adapter_bd"])
    rows = [[g["codec"], _bd_cell(g["bd_metric"])]
            + ([fmt_ci(g["bd_metric"].get("ci"), 2, signed=True)] if has_ci else [])
            for g in section["adapter_bd"]]
    return Table(f"{section_title(section)}: adapter gain of {adapted} (BD-{sm})",
                 ["codec", f"BD-{sm}"] + (["95% CI"] if has_ci else []), rows,
                 "the adapted VLM's curve against the base VLM's, same codec; positive = better"
                 + (f"; CI: {bootstrap_note(section)}, both curves rescored on each resample" if has_ci else ""))


def gap_summary_table(section: dict) -> Table | None:
    """Per codec: the gaps averaged over its levels, the generalization share, the BD gain."""
    summary = section.get("gap_summary") or []
    if not summary:
        return None
    adapted = summary[0]["adapted_vlm"]
    sm = section["score_metric"]
    bd = {g["codec"]: g["bd_metric"] for g in section["adapter_bd"]}
    has_ci = any((bd.get(s["codec"]) or {}).get("ci") for s in summary)
    dec = decimals_for(s[k] for s in summary for k in ("total", "information", "generalization"))
    rows = []
    for s in summary:
        share = s["generalization_share"]
        gain = bd.get(s["codec"])
        rows.append([s["codec"], f"{s['levels_used']}/{s['levels']}",
                     *[fmt(s[k], True, dec) for k in ("total", "information", "generalization")],
                     "n/a" if not math.isfinite(share) else f"{share:.0%}",
                     _bd_cell(gain) if gain else "-"]
                    + ([fmt_ci(gain.get("ci"), 2, signed=True) if gain else ""] if has_ci else []))
    return Table(f"{section_title(section)}: adapter {adapted}, per codec",
                 ["codec", "levels", "total", "info", "general.", "share", f"BD-{sm} gain"]
                 + (["95% CI"] if has_ci else []), rows,
                 "gaps averaged over the levels with all three scores; share = summed generalization / "
                 "summed total gap; gain = the adapted curve against the base curve, positive = better"
                 + (f"; CI: {bootstrap_note(section)}, both curves rescored on each resample" if has_ci else ""))


def clean_drift_table(section: dict) -> Table | None:
    """Base and adapted model on the uncompressed images: what the adapter changed where it
    should change nothing."""
    d = section.get("clean_drift")
    if not d:
        return None
    dec = decimals_for([d["base"], d["adapted"]])
    if d["reason"]:
        row = [fmt(d["base"], decimals=dec), fmt(d["adapted"], decimals=dec), Reason(d["reason"]), ""]
    else:
        row = [fmt(d["base"], decimals=dec), fmt(d["adapted"], decimals=dec), fmt(d["drift"], True, dec),
               fmt_ci(d.get("drift_ci"), dec, signed=True) if d.get("drift_ci") else "-"]
    return Table(f"{section_title(section)}: clean-image drift of {d['adapted_vlm']}",
                 ["base", "adapted", "drift", "95% CI"], [row],
                 "scores on the uncompressed images; drift = adapted - base, negative = the adapter made "
                 "clean images worse (train with `cvb adapt --clean-mix` to hold it back); CI: paired "
                 "bootstrap over samples")


def section_tables(section: dict, metrics: list[str], interp: str) -> list[Table]:
    tables = [cells_table(section, metrics), bd_table(section, interp)]
    if section["correlation"]:  # no image metric measured: no correlation to show
        tables.append(correlation_table(section))
    return tables + [t for t in (gap_table(section), gap_summary_table(section), adapter_table(section),
                                 clean_drift_table(section)) if t is not None]


def section_figures(images: dict | None, section: dict, before: list[dict]) -> list:
    """The figures of one section; the per-task figure of every VLM goes with the task's first."""
    images = images or {}
    first = not any(b["task"] == section["task"] for b in before)
    return (images.get((section["task"], ""), []) if first else []) + \
        images.get((section["task"], section["vlm"]), [])


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


def markdown_report(report: dict, images: dict | None = None) -> str:
    """The whole report as Markdown; ``images`` maps (task, vlm) to (relative PNG path, caption)."""
    out = ["# cvb report", "",
           f"Interpolation: {report['interp']}. Anchor: {report['anchor'] or DEFAULT_ANCHOR_WORDS}.",
           ""]
    words = inference_words(report)
    if words:
        out += [f"Statistics: {_md_escape(words)}", ""]
    for i, s in enumerate(report["sections"]):
        out += [f"## {_md_escape(section_title(s))}", ""]
        ref = s["reference"]
        out.append(f"Uncompressed {s['score_metric']}: {fmt(ref['score']) if ref else 'not run'}"
                   + (f"; {s['n_failed']} failed units" if s["n_failed"] else "") + ".")
        out.append("")
        for t in section_tables(s, report["metrics"], report["interp"]):
            out += [markdown_table(t)]
        for path, caption in section_figures(images, s, report["sections"][:i]):
            out += [f"![{_md_escape(caption)}]({path})", "", f"*{_md_escape(caption)}*", ""]
    lines = provenance_lines(report.get("provenance"))
    if lines:
        out += ["## Provenance", ""] + [f"- `{_md_escape(x)}`" for x in lines] + [""]
    return "\n".join(out)


def _width(table: Table, cols: Sequence[int]) -> int:
    """Characters the columns ``cols`` need side by side, one space of padding each side."""
    return sum(max([len(table.header[i])] + [len(r[i]) for r in table.rows if not isinstance(r[i], Reason)])
               + 2 for i in cols)


def fit_columns(table: Table, width: int, keep: int = 2) -> list[Table]:
    """``table`` as one or more tables that each fit ``width`` characters: the first ``keep``
    columns (the row's name) repeat in each part and the others are dealt out in order, so a
    number is never split across lines. A reason (free text) column may still wrap."""
    head = list(range(keep))
    parts: list[list[int]] = [[]]
    for i in range(keep, len(table.header)):
        if parts[-1] and _width(table, head + parts[-1] + [i]) > width:
            parts.append([])
        parts[-1].append(i)
    if len(parts) == 1:
        return [table]
    out = []
    for n, cols in enumerate(parts, 1):
        idx = head + cols
        out.append(Table(f"{table.title} ({n}/{len(parts)})", [table.header[i] for i in idx],
                         [[r[i] for i in idx] for r in table.rows], table.note if n == len(parts) else ""))
    return out


def rich_table(t: Table):
    """One Table as a rich renderable: title, header, numbers right-aligned and never wrapped,
    note, a blank line (laid out as text, ``cvb.report.text_table``: rich's own Table costs
    seconds over a study's sections)."""
    from .text_table import TextTable

    return TextTable(t)


def rich_tables(report: dict, width: int = 80) -> Iterable:
    """rich renderables for a terminal ``width`` columns wide, section by section."""
    from rich.markup import escape
    from rich.rule import Rule
    from rich.text import Text

    for s in report["sections"]:
        yield Rule(escape(section_title(s)))
        ref = s["reference"]
        yield Text(f"uncompressed {s['score_metric']}: {fmt(ref['score']) if ref else 'not run'}"
                   + (f"; {s['n_failed']} failed units" if s["n_failed"] else ""))
        for t in section_tables(s, report["metrics"], report["interp"]):
            for part in fit_columns(t, width):
                yield rich_table(part)


def cells_csv(report: dict) -> str:
    """The cells table (``cvb.report.cells_table``) as CSV: every cell, full precision, a
    header even with no cell; the same table as ``cvb export --what cells``."""
    from .cells_table import write_cells

    buf = io.StringIO()
    write_cells(report, "csv", buf)
    return buf.getvalue()
