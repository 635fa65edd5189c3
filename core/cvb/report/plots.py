"""Paper-ready plots of a report (matplotlib, Agg backend, imported only when plotting).

Every figure is written as PNG (300 dpi), SVG and PDF (vector, for a paper), and has a caption
that says what it shows. Figures are drawn with the style file ``cvb.mplstyle`` beside this
module (sizes for print, fonts, grid); ``CVB_PLOT_STYLE`` names other matplotlib styles or
``.mplstyle`` files applied on top (comma-separated), so a paper's look needs no code. Level
labels are placed where they overlap no other label and no marker (``place_labels``):

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
from typing import Any, Callable, Sequence

FORMATS = ("png", "svg", "pdf")
DPI = 300  # PNG resolution (print quality); SVG and PDF are vector
STYLE = Path(__file__).with_name("cvb.mplstyle")
#: score metrics reported in percent (the tasks' own scales): their names as a paper writes them
PERCENT_SCORES = {"acc": "Accuracy", "accuracy": "Accuracy", "f1": "F1", "precision": "Precision",
                  "recall": "Recall", "consistency": "Consistency", "word_f1": "Word F1"}
#: image metrics as a paper writes them, with units
METRIC_NAMES = {"psnr": "PSNR (dB)", "psnr-rgb": "PSNR-RGB (dB)", "psnr-y": "PSNR-Y (dB)",
                "ssim": "SSIM", "ms-ssim": "MS-SSIM", "msssim": "MS-SSIM", "lpips": "LPIPS",
                "dists": "DISTS", "vif": "VIF", "fsim": "FSIM", "gmsd": "GMSD", "mse": "MSE",
                "butteraugli": "Butteraugli", "ssimulacra2": "SSIMULACRA 2"}


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


def score_name(metric: str) -> str:
    """A score's name as a paper writes it (``acc`` -> ``Accuracy``)."""
    return PERCENT_SCORES.get(metric, metric)


def score_label(metric: str) -> str:
    """The score axis: name and unit (``Accuracy (%)``)."""
    if metric in PERCENT_SCORES:
        return f"{PERCENT_SCORES[metric]} (%)"
    if metric.startswith("score/"):
        return f"score (points of {metric.split('/', 1)[1]})"
    return metric


def metric_label(metric: str) -> str:
    """An image metric's axis: proper name and unit (``psnr`` -> ``PSNR (dB)``); options in
    brackets are kept (``ssim[downsample=True]`` -> ``SSIM [downsample=True]``)."""
    from ..identity import Identity

    ref = Identity.parse(metric).ref
    name = METRIC_NAMES.get(ref.lower())
    if name is None:
        return metric
    return f"{name} {metric[len(ref):]}" if metric != ref else name


def _wrap(title: str, width: int = 70) -> str:
    """Long labels (paths, options in brackets) over several lines instead of cut off."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width, break_long_words=True, break_on_hyphens=False)) or title


def styles() -> list:
    """The styles every figure is drawn with: ``cvb.mplstyle``, then ``CVB_PLOT_STYLE``'s."""
    import os

    extra = [x.strip() for x in os.environ.get("CVB_PLOT_STYLE", "").split(",") if x.strip()]
    return [str(STYLE), *extra]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    try:
        plt.style.use(styles())
    except (OSError, ValueError) as exc:  # a misspelt CVB_PLOT_STYLE: say which, list the known
        from ..errors import UsageError

        raise UsageError(f"CVB_PLOT_STYLE: {exc}; matplotlib styles: {', '.join(plt.style.available)}, "
                         f"or the path of a .mplstyle file") from None
    plt.rcParams.update({"svg.fonttype": "none", "pdf.fonttype": 42})  # editable text in papers
    return plt


#: where a level label may sit around its point, in points, nearest first
_OFFSETS = [(d * dx, d * dy) for d in (1, 2, 3) for dx, dy in
            ((4, 4), (4, -4), (-4, 4), (-4, -4), (5, 0), (-5, 0), (0, 5), (0, -5))]


def place_labels(ax: Any, labels: list[tuple[float, float, str, str]], avoid: Sequence[Any] = ()) -> list:
    """Level labels ``(x, y, text, colour)`` placed so that no two overlap and none covers a
    marker: each label takes the first of ``_OFFSETS`` around its point whose box (measured by
    the renderer) is clear of the labels placed so far and of every marker; a label with no clear
    place takes the one overlapping least. Returns the text artists."""
    fig = ax.figure
    fig.canvas.draw()  # final layout: the boxes are measured where they will be drawn
    renderer = fig.canvas.get_renderer()
    size = fig.dpi / 72 * 4  # a marker's half width in pixels (markersize about 5-6 pt)
    markers = [_box(px, py, size) for px, py in (ax.transData.transform((x, y)) for x, y, _, _ in labels)]
    for artist in avoid:  # e.g. the legend
        bb = artist.get_window_extent(renderer)
        markers.append((bb.x0, bb.y0, bb.x1, bb.y1))
    placed: list = []
    artists = []
    for (x, y, text, color) in labels:
        best: tuple[Any, tuple[float, float, float, float]] | None = None
        best_cost = math.inf
        for dx, dy in _OFFSETS:
            t = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy),
                            ha="left" if dx > 0 else "right" if dx < 0 else "center",
                            va="bottom" if dy > 0 else "top" if dy < 0 else "center",
                            color=color, fontsize="small", annotation_clip=False,
                            path_effects=[_halo()])
            bb = t.get_window_extent(renderer)
            box = (bb.x0, bb.y0, bb.x1, bb.y1)
            cost = sum(_overlap(box, o) for o in placed + markers)
            if cost < best_cost:
                if best is not None:
                    best[0].remove()
                best, best_cost = (t, box), cost
            else:
                t.remove()
            if cost == 0:
                break
        assert best is not None  # the first offset always takes it
        placed.append(best[1])
        artists.append(best[0])
    return artists


def _halo():
    """A white outline that keeps a label readable where it crosses a line or an error bar."""
    from matplotlib.patheffects import withStroke

    return withStroke(linewidth=2.5, foreground="white")


def _box(x: float, y: float, half: float) -> tuple[float, float, float, float]:
    return (x - half, y - half, x + half, y + half)


def _overlap(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


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
                  labels: list | None = None) -> bool:
    """One codec's curve per colour, error bars from the cells' intervals; each point's level
    is added to ``labels`` (placed later by ``place_labels``) unless ``labels`` is None."""
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
        bars = ax.errorbar(x, y, yerr=[lo, hi] if has_ci else None, label=name,
                           capsize=2.5 if has_ci else 0, elinewidth=0.9,
                           linestyle="--" if adapted else "-", mfc="white" if adapted else None,
                           **_style(i))
        for part in (*bars[1], *bars[2]):  # the bars lighter than the curve they belong to
            part.set_alpha(0.55)
        if labels is not None:
            labels += [(xv, yv, str(c["level"]), _style(i)["color"]) for xv, yv, c in pts]
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
        conf = round(100 * section.get("confidence", 0.95))
        ax.axhspan(ci[0], ci[1], color=style["color"], alpha=0.12, linewidth=0,
                   label=f"{who}, {conf}% CI")


def _legend(ax, **kw) -> None:
    """The legend where it covers the fewest points; error bars are named in it too."""
    handles, names = ax.get_legend_handles_labels()
    if not handles:
        return
    if any(isinstance(h, __import__("matplotlib").container.ErrorbarContainer) and h.has_yerr
           for h in handles):
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="0.3", marker="|", linestyle="none", markersize=9))
        names.append(f"{round(100 * kw.pop('confidence', 0.95))}% CI (error bars)")
    kw.pop("confidence", None)
    ax.legend(handles, names, **kw)


def _finish(fig, axes_labels: list) -> None:
    """Lay the figure out, then place every axes' level labels (``place_labels``) clear of each
    other, of the markers and of the legend."""
    fig.tight_layout()
    for ax, labels in axes_labels:
        legend = ax.get_legend()
        for t in place_labels(ax, labels, [legend] if legend is not None else []):
            t.set_gid("level-label")


def _save(fig, png: Path) -> None:
    for f in FORMATS:
        fig.savefig(png.with_suffix("." + f), format=f, dpi=DPI)


def _ci_words(section: dict) -> str:
    methods = sorted({c.get("ci_method") for c in section["cells"] if c.get("ci_method")})
    if not methods:
        return ""
    conf = round(100 * section.get("confidence", 0.95))
    unc = section.get("uncertainty") or {}
    how = " / ".join({"cluster bootstrap": "cluster bootstrap over images", "wilson": "Wilson"}.get(m, m)
                     for m in methods)
    draws = f", {unc['resamples']} resamples, seed {unc['seed']}" if unc.get("resamples") else ""
    return f" Error bars and the grey band: {conf}% confidence intervals ({how}{draws})."


def draw_score(section: dict, adapted_section: dict | None = None):
    """The figure of ``plot_score`` (open: the caller saves and closes it)."""
    plt = _pyplot()
    fig, ax = plt.subplots()
    colors: dict[str, int] = {}
    labels: list = []
    plotted = _score_curves(ax, section, colors, labels=labels)
    _reference_line(ax, section)
    if adapted_section is not None:
        plotted = _score_curves(ax, adapted_section, colors, adapted=True) or plotted
        _reference_line(ax, adapted_section, adapted=True)
    if plotted:
        _log_x(ax)
    ax.set_xlabel("bits per pixel (bpp, log scale)")
    ax.set_ylabel(score_label(section["score_metric"]))
    vlms = section["vlm"] + (f" and {adapted_section['vlm']} (adapted)" if adapted_section is not None else "")
    title = f"{section['task']} x {vlms}: {score_name(section['score_metric'])} vs. bitrate"
    ax.set_title(_wrap(title, 60))
    _legend(ax, loc="best", confidence=section.get("confidence", 0.95))
    _finish(fig, [(ax, labels)])
    return fig


def plot_score(section: dict, path: Path, adapted_section: dict | None = None) -> Figure:
    fig = draw_score(section, adapted_section)
    try:
        _save(fig, path)
    finally:
        fig.clf()
        _pyplot().close(fig)
    caption = (f"{section['task']}, {section['vlm']}: {score_label(section['score_metric'])} against bits "
               f"per pixel (log scale), one curve per codec, points labelled with the codec level; "
               f"dashed line: the score on uncompressed images.")
    if adapted_section is not None:
        caption += (f" Dashed curves with open markers: {adapted_section['vlm']}, the model adapted "
                    f"to compressed images; dotted line: its uncompressed score.")
    return Figure(path, caption + _ci_words(section))


def draw_task(sections: list[dict]):
    """The figure of ``plot_task`` (open)."""
    plt = _pyplot()
    cols = min(3, len(sections))
    rows = math.ceil(len(sections) / cols)
    w, h = plt.rcParams["figure.figsize"]
    fig, axes = plt.subplots(rows, cols, figsize=(0.75 * w * cols, 0.85 * h * rows), squeeze=False,
                             sharex=True, sharey=True)
    colors: dict[str, int] = {}
    placed = []
    for ax, s in zip(axes.flat, sections):
        labels: list = []
        if _score_curves(ax, s, colors, labels=labels):
            _log_x(ax)
        _reference_line(ax, s)
        ax.set_title(_wrap(s["vlm"], 50), fontsize="medium")
        ax.set_xlabel("bpp (log scale)")
        placed.append((ax, labels))
    for ax in axes[:, 0]:
        ax.set_ylabel(score_label(sections[0]["score_metric"]))
    for ax in list(axes.flat)[len(sections):]:
        ax.axis("off")
    _legend(axes.flat[0], loc="best", confidence=sections[0].get("confidence", 0.95))
    fig.suptitle(_wrap(f"{sections[0]['task']}: {score_name(sections[0]['score_metric'])} vs. bitrate "
                       f"of every VLM", 100))
    _finish(fig, placed)
    return fig


def plot_task(sections: list[dict], path: Path) -> Figure:
    """The paper's figure: every VLM of one task side by side, same score axis."""
    fig = draw_task(sections)
    try:
        _save(fig, path)
    finally:
        _pyplot().close(fig)
    vlms = ", ".join(s["vlm"] for s in sections)
    return Figure(path, f"{sections[0]['task']}: {score_label(sections[0]['score_metric'])} against bits "
                        f"per pixel for every VLM ({vlms}), one panel each on a shared score axis; one "
                        f"curve per codec, points labelled with the level; dashed line: uncompressed."
                        + _ci_words(sections[0]))


def _metrics_present(section: dict, metrics: list[str]) -> list[str]:
    return [m for m in metrics
            if any(math.isfinite(c["metrics"].get(m, math.nan)) for c in section["cells"]
                   if c["codec"] != "none")]


def draw_metrics(section: dict, metrics: list[str]):
    """The figure of ``plot_metrics`` (open), or None when no cell has a metric."""
    present = _metrics_present(section, metrics)
    if not present:
        return None
    plt = _pyplot()
    cols = min(3, len(present))
    rows = math.ceil(len(present) / cols)
    w, h = plt.rcParams["figure.figsize"]
    fig, axes = plt.subplots(rows, cols, figsize=(0.72 * w * cols, 0.8 * h * rows), squeeze=False)
    placed = []
    for ax, m in zip(axes.flat, present):
        labels: list = []
        for i, codec in enumerate(section["codecs"]):
            pts = _points(section["cells"], codec, lambda c, m=m: c["metrics"].get(m, math.nan))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=codec, **_style(i))
                labels += [(xv, yv, str(c["level"]), _style(i)["color"]) for xv, yv, c in pts]
        _log_x(ax)
        ax.set_xlabel("bpp (log scale)")
        ax.set_ylabel(metric_label(m))
        ax.set_title(f"{metric_label(m).split(' (')[0]} vs. bitrate", fontsize="medium")
        placed.append((ax, labels))
    for ax in list(axes.flat)[len(present):]:
        ax.axis("off")
    _legend(axes.flat[0], loc="best")
    fig.suptitle(_wrap(f"{section['task']}: image quality of the compressed images vs. bitrate", 100))
    _finish(fig, placed)
    return fig


def plot_metrics(section: dict, metrics: list[str], path: Path) -> Figure | None:
    """Grid of metric-vs-bpp panels; None when no cell has a metric."""
    fig = draw_metrics(section, metrics)
    if fig is None:
        return None
    try:
        _save(fig, path)
    finally:
        _pyplot().close(fig)
    present = _metrics_present(section, metrics)
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
    draws: dict[str, Callable[..., Figure | None]] = {"score": plot_score, "metrics": plot_metrics,
                                                       "task": plot_task}
    draw = draws[kind]
    return draw(*args)


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


__all__ = ["Figure", "draw_metrics", "draw_score", "draw_task", "place_labels", "plot_metrics", "plot_score",
           "plot_task", "plot_workers", "slug", "write_plots"]
