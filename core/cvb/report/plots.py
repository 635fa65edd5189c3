"""Paper-ready plots of a report (matplotlib, Agg backend, imported only when plotting).

Every figure is written as PNG (for the HTML page), SVG and PDF (vector, for a paper), and has
a caption that says what it shows:

* ``score_<task>_<vlm>``: task score vs bpp (log axis), one curve per codec, each point labelled
  with its level, error bars from the report's confidence intervals, the uncompressed score as
  a dashed line with its interval as a band; with ``--adapted``, the adapted VLM's curves are
  overlaid (same colour, dashed) on the base VLM's figure.
* ``score_<task>``: the paper's figure: one panel per VLM, same axes, every codec.
* ``metrics_<task>``: each image metric vs bpp, one curve per codec. Image metrics depend on
  the images, not the VLM, so one figure per task (from its first VLM's cells).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("png", "svg", "pdf")
#: score metrics reported in percent (the tasks' own scales); others are shown unitless
PERCENT_SCORES = {"acc", "f1", "precision", "recall", "consistency", "word_f1", "accuracy"}
METRIC_UNITS = {"psnr": "dB", "psnr-rgb": "dB"}


@dataclass
class Figure:
    """One plot: its PNG (the other formats lie beside it) and a caption."""

    png: Path
    caption: str

    @property
    def files(self) -> list[Path]:
        return [self.png.with_suffix("." + f) for f in FORMATS]


def slug(text: str) -> str:
    """A file-name-safe form of a task or VLM name (``hf:/models/x`` -> ``hf_models_x``)."""
    s = re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_.")
    return s[:80] or "x"


def score_label(metric: str) -> str:
    if metric in PERCENT_SCORES:
        return f"{metric} (%)"
    if metric.startswith("score/"):
        return f"score (points of {metric.split('/', 1)[1]})"
    return metric


def metric_label(metric: str) -> str:
    unit = METRIC_UNITS.get(metric.split("[", 1)[0])
    return f"{metric} ({unit})" if unit else metric


def _wrap(title: str, width: int = 70) -> str:
    """Long labels (paths, options in brackets) over several lines instead of cut off."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width, break_long_words=True, break_on_hyphens=False)) or title


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "pdf.fonttype": 42})  # editable text in papers
    return plt


def _log_x(ax) -> None:
    """Log bpp axis with plain numbers (0.2, 0.5, 1) rather than 2x10^-1 labels that collide."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda v, _pos: f"{v:g}")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(plain)
    lo, hi = ax.get_xlim()
    if hi / lo < 30:  # less than ~1.5 decades: label 2x and 5x too, else few or no labels
        ax.xaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        ax.xaxis.set_minor_formatter(plain)
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())


def _points(cells: list[dict], codec: str, key) -> list[tuple[float, float, dict]]:
    pts = [(c["bpp"], key(c), c) for c in cells if c["codec"] == codec]
    pts = [p for p in pts if math.isfinite(p[0]) and p[0] > 0 and math.isfinite(p[1])]
    return sorted(pts, key=lambda p: p[0])


def _style(i: int) -> dict:
    markers = "osD^vP*Xh<>"
    return {"marker": markers[i % len(markers)], "color": f"C{i % 10}"}


def _score_curves(ax, section: dict, colors: dict[str, int], adapted: bool = False,
                  labels: bool = True) -> bool:
    """One codec's curve per colour, error bars from the cells' intervals, levels as labels."""
    plotted = False
    for codec in section["codecs"]:
        pts = _points(section["cells"], codec, lambda c: c["score"])
        if not pts:
            continue
        i = colors.setdefault(codec, len(colors))
        x, y = [p[0] for p in pts], [p[1] for p in pts]
        lo = [p[1] - p[2]["ci"][0] if p[2].get("ci") and p[2]["ci"][0] is not None else 0 for p in pts]
        hi = [p[2]["ci"][1] - p[1] if p[2].get("ci") and p[2]["ci"][1] is not None else 0 for p in pts]
        has_ci = any(lo) or any(hi)
        name = f"{codec}, adapted" if adapted else codec  # the title names both VLMs
        bars = ax.errorbar(x, y, yerr=[lo, hi] if has_ci else None, label=name, linewidth=1.6,
                           markersize=5, capsize=2.5 if has_ci else 0, elinewidth=0.9,
                           linestyle="--" if adapted else "-", mfc="white" if adapted else None,
                           **_style(i))
        for part in (*bars[1], *bars[2]):  # the bars lighter than the curve they belong to
            part.set_alpha(0.55)
        if labels:
            for xv, yv, c in pts:
                ax.annotate(str(c["level"]), (xv, yv), textcoords="offset points", xytext=(4, 4),
                            fontsize=7, color=_style(i)["color"])
        plotted = True
    return plotted


def _reference_line(ax, section: dict, adapted: bool = False) -> None:
    ref = section["reference"]
    if not ref or not math.isfinite(ref["score"]):
        return
    style = {"color": "0.55" if adapted else "0.25", "linestyle": ":" if adapted else "--",
             "linewidth": 1.2}
    who = "adapted, uncompressed" if adapted else "uncompressed"
    ax.axhline(ref["score"], label=f"{who} ({ref['score']:.4g})", **style)
    ci = ref.get("ci")
    if ci and ci[0] is not None and ci[1] is not None:
        ax.axhspan(ci[0], ci[1], color=style["color"], alpha=0.12, linewidth=0)


def _save(fig, png: Path) -> None:
    for f in FORMATS:
        fig.savefig(png.with_suffix("." + f), format=f)


def _ci_words(section: dict) -> str:
    methods = sorted({c.get("ci_method") for c in section["cells"] if c.get("ci_method")})
    if not methods:
        return ""
    conf = round(100 * section.get("confidence", 0.95))
    return f" Error bars and the band: {conf}% confidence intervals ({' / '.join(methods)} over samples)."


def plot_score(section: dict, path: Path, adapted_section: dict | None = None) -> Figure:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    try:
        colors: dict[str, int] = {}
        plotted = _score_curves(ax, section, colors)
        _reference_line(ax, section)
        if adapted_section is not None:
            plotted = _score_curves(ax, adapted_section, colors, adapted=True, labels=False) or plotted
            _reference_line(ax, adapted_section, adapted=True)
        if plotted:
            _log_x(ax)
        ax.set_xlabel("bits per pixel (bpp, log scale)")
        ax.set_ylabel(score_label(section["score_metric"]))
        title = f"{section['task']}: {section['vlm']}"
        if adapted_section is not None:
            title += f" and {adapted_section['vlm']} (adapted)"
        ax.set_title(_wrap(title), fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    caption = (f"{section['task']}, {section['vlm']}: {section['score_metric']} against bits per "
               f"pixel (log scale), one curve per codec, points labelled with the codec level; "
               f"dashed line: the score on uncompressed images.")
    if adapted_section is not None:
        caption += (f" Dashed curves with open markers: {adapted_section['vlm']}, the model adapted "
                    f"to compressed images; dotted line: its uncompressed score.")
    return Figure(path, caption + _ci_words(section))


def plot_task(sections: list[dict], path: Path) -> Figure:
    """The paper's figure: every VLM of one task side by side, same score axis."""
    plt = _pyplot()
    cols = min(3, len(sections))
    rows = math.ceil(len(sections) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.6 * rows), dpi=110, squeeze=False,
                             sharex=True, sharey=True)
    try:
        colors: dict[str, int] = {}
        for ax, s in zip(axes.flat, sections):
            if _score_curves(ax, s, colors):
                _log_x(ax)
            _reference_line(ax, s)
            ax.set_title(_wrap(s["vlm"], 50), fontsize=8)
            ax.set_xlabel("bpp (log scale)")
            ax.grid(True, which="both", alpha=0.3)
        for ax in axes[:, 0]:
            ax.set_ylabel(score_label(sections[0]["score_metric"]))
        for ax in list(axes.flat)[len(sections):]:
            ax.axis("off")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        if handles:
            axes.flat[0].legend(fontsize=7, loc="lower right")
        fig.suptitle(_wrap(f"{sections[0]['task']}: {sections[0]['score_metric']} of every VLM", 100), fontsize=10)
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    vlms = ", ".join(s["vlm"] for s in sections)
    return Figure(path, f"{sections[0]['task']}: {sections[0]['score_metric']} against bits per pixel "
                        f"for every VLM ({vlms}), one panel each on a shared score axis; one curve "
                        f"per codec, points labelled with the level; dashed line: uncompressed."
                        + _ci_words(sections[0]))


def plot_metrics(section: dict, metrics: list[str], path: Path) -> Figure | None:
    """Grid of metric-vs-bpp panels; None when no cell has a metric."""
    present = [m for m in metrics
               if any(math.isfinite(c["metrics"].get(m, math.nan)) for c in section["cells"]
                      if c["codec"] != "none")]
    if not present:
        return None
    plt = _pyplot()
    cols = min(3, len(present))
    rows = math.ceil(len(present) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), dpi=110, squeeze=False)
    try:
        for ax, m in zip(axes.flat, present):
            for i, codec in enumerate(section["codecs"]):
                pts = _points(section["cells"], codec, lambda c, m=m: c["metrics"].get(m, math.nan))
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], label=codec, linewidth=1.4,
                            markersize=4, **_style(i))
                    for xv, yv, c in pts:
                        ax.annotate(str(c["level"]), (xv, yv), textcoords="offset points",
                                    xytext=(3, 3), fontsize=6, color=_style(i)["color"])
            _log_x(ax)
            ax.set_xlabel("bpp (log scale)")
            ax.set_ylabel(metric_label(m))
            ax.set_title(m, fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
        for ax in list(axes.flat)[len(present):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(_wrap(f"image quality: {section['task']}", 100), fontsize=10)
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    return Figure(path, f"{section['task']}: image quality of the compressed images against bits "
                        f"per pixel ({', '.join(metric_label(m) for m in present)}), mean over the "
                        f"task's images, one curve per codec, points labelled with the level.")


def write_plots(report: dict, out: Path, progress=None, workers: int | None = None
                ) -> dict[tuple[str, str], list[Figure]]:
    """Every plot of the report under ``out``; returns ``{(task, vlm): [figures]}`` (the
    per-task figure of every VLM is listed under ``(task, "")``). ``progress(line)`` hears of
    each figure drawn (one takes about a second per format). The figures are drawn by
    ``workers`` processes (default: one per CPU, ``plot_workers``): each is independent, and
    a study's report has dozens."""
    out.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[tuple[str, str], str, tuple]] = []  # (key, kind, arguments), in report order
    metric_done: set[str] = set()
    used: set[str] = set()
    adapted = report.get("adapted") or {}
    by_key = {(s["task"], s["vlm"]): s for s in report["sections"]}

    def unique(name: str) -> str:  # two names may slug alike
        base, k = name, 2
        while name in used:
            name = f"{base}-{k}"
            k += 1
        used.add(name)
        return name

    tasks: dict[str, list[dict]] = {}
    for s in report["sections"]:
        key = (s["task"], s["vlm"])
        tasks.setdefault(s["task"], []).append(s)
        partner = by_key.get((s["task"], adapted.get(s["vlm"], "")))
        name = unique(f"score_{slug(s['task'])}_{slug(s['vlm'])}")
        jobs.append((key, "score", (s, out / f"{name}.png", partner)))
        if s["task"] not in metric_done:
            metric_done.add(s["task"])
            jobs.append((key, "metrics", (s, report["metrics"], out / f"{unique('metrics_' + slug(s['task']))}.png")))
    for task, sections in tasks.items():
        if len(sections) > 1:
            jobs.append(((task, ""), "task", (sections, out / f"{unique(f'score_{slug(task)}')}.png")))
    made: dict[tuple[str, str], list[Figure]] = {}
    for (key, kind, args), fig in zip(jobs, _draw_all([(kind, args) for _, kind, args in jobs], progress, workers)):
        figs = made.setdefault(key, [])
        if fig is not None:
            figs.append(fig)
    return made


def plot_workers(jobs: int) -> int:
    """Processes that draw ``jobs`` figures: one per CPU this process may use, at most 8."""
    from ..threads import available_cpus

    return max(1, min(jobs, available_cpus(), 8))


def _draw(job: tuple[str, tuple]) -> Figure | None:
    kind, args = job
    return {"score": plot_score, "metrics": plot_metrics, "task": plot_task}[kind](*args)


def _draw_all(jobs: list[tuple[str, tuple]], progress, workers: int | None) -> list[Figure | None]:
    """``_draw`` of every job, in order; several processes when there are several CPUs."""
    n = plot_workers(len(jobs)) if workers is None else max(1, min(workers, len(jobs)))

    def say(i: int) -> None:
        if progress:
            progress(f"plotting: {i}/{len(jobs)} figures drawn" + (f" ({n} processes)" if n > 1 else ""))

    if n <= 1:
        out = []
        for i, job in enumerate(jobs, 1):
            out.append(_draw(job))
            say(i)
        return out
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from ..threads import process_context

    _pyplot()  # imported once here, shared by forked workers
    ctx = process_context()
    results: list[Figure | None] = [None] * len(jobs)
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        futures = {pool.submit(_draw, job): i for i, job in enumerate(jobs)}
        for done, future in enumerate(as_completed(futures), 1):
            results[futures[future]] = future.result()
            say(done)
    return results


__all__ = ["Figure", "plot_metrics", "plot_score", "plot_task", "plot_workers", "slug", "write_plots"]
