"""PNG plots of a report (matplotlib, Agg backend, imported only when plotting).

* ``score_<task>_<vlm>.png``: task score vs bpp (log axis), one curve per codec, the clean
  score as a dashed horizontal line.
* ``metrics_<task>.png``: each image metric vs bpp, one curve per codec. Image metrics depend
  on the images, not the VLM, so one figure per task (from its first VLM's cells).
"""

from __future__ import annotations

import math
import re
from pathlib import Path


def slug(text: str) -> str:
    """A file-name-safe form of a task or VLM name (``hf:/models/x`` -> ``hf_models_x``)."""
    s = re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_.")
    return s[:80] or "x"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

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


def _series(cells: list[dict], codec: str, key) -> tuple[list[float], list[float]]:
    pts = [(c["bpp"], key(c)) for c in cells if c["codec"] == codec]
    pts = [(b, v) for b, v in pts if math.isfinite(b) and b > 0 and math.isfinite(v)]
    pts.sort()
    return [p[0] for p in pts], [p[1] for p in pts]


def _style(i: int) -> dict:
    markers = "osD^vP*Xh<>"
    return {"marker": markers[i % len(markers)], "color": f"C{i % 10}"}


def plot_score(section: dict, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    try:
        plotted = False
        for i, codec in enumerate(section["codecs"]):
            x, y = _series(section["cells"], codec, lambda c: c["score"])
            if x:
                ax.plot(x, y, label=codec, linewidth=1.6, markersize=5, **_style(i))
                plotted = True
        ref = section["reference"]
        if ref and math.isfinite(ref["score"]):
            ax.axhline(ref["score"], color="0.3", linestyle="--", linewidth=1.2,
                       label=f"uncompressed ({ref['score']:.4g})")
        if plotted:
            _log_x(ax)
        ax.set_xlabel("bits per pixel (log scale)")
        ax.set_ylabel(section["score_metric"])
        ax.set_title(f"{section['task']} x {section['vlm']}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def plot_metrics(section: dict, metrics: list[str], path: Path) -> Path | None:
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
                x, y = _series(section["cells"], codec, lambda c, m=m: c["metrics"].get(m, math.nan))
                if x:
                    ax.plot(x, y, label=codec, linewidth=1.4, markersize=4, **_style(i))
            _log_x(ax)
            ax.set_xlabel("bpp (log scale)")
            ax.set_ylabel(m)
            ax.set_title(m, fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
        for ax in list(axes.flat)[len(present):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(f"image metrics: {section['task']}", fontsize=11)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def write_plots(report: dict, out: Path) -> dict[tuple[str, str], list[Path]]:
    """Every plot of the report under ``out``; returns ``{(task, vlm): [png paths]}``."""
    out.mkdir(parents=True, exist_ok=True)
    made: dict[tuple[str, str], list[Path]] = {}
    metric_done: set[str] = set()
    used: set[str] = set()

    def unique(name: str) -> str:  # two names may slug alike
        base, k = name, 2
        while name in used:
            name = f"{base[:-4]}-{k}.png"
            k += 1
        used.add(name)
        return name

    for s in report["sections"]:
        paths = [plot_score(s, out / unique(f"score_{slug(s['task'])}_{slug(s['vlm'])}.png"))]
        if s["task"] not in metric_done:
            metric_done.add(s["task"])
            p = plot_metrics(s, report["metrics"], out / unique(f"metrics_{slug(s['task'])}.png"))
            if p is not None:
                paths.append(p)
        made[(s["task"], s["vlm"])] = paths
    return made


__all__ = ["plot_score", "plot_metrics", "write_plots", "slug"]
