"""The rate-distortion bench behind `cvb compress`: codecs x levels over images.

Work is cut into units of (image, codec): the image is read once and every level of that
codec is run on it. With ``jobs == 1`` everything runs in this process (no pool overhead);
with ``jobs > 1`` in the process pool `cvb run` uses for its compression stage.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence


@dataclass
class RDRow:
    """One image at one codec level (``error`` set: this unit failed, numbers are NaN)."""

    image: str
    codec: str
    level: str
    width: int = 0
    height: int = 0
    num_bytes: int = 0
    bpp: float = math.nan
    encode_s: float = math.nan
    decode_s: float = math.nan
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Unit:
    image: str  # path
    codec: str  # registry name
    levels: tuple[str, ...]
    metrics: tuple[str, ...]
    label: str = ""  # how rows name the image; default: the file name


def image_labels(paths: Sequence[Path]) -> list[str]:
    """File names, or paths below the common folder when two files share a name
    (``a/001.png``, ``b/001.png``), so per-image rows never mix two images."""
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    import os

    root = os.path.commonpath([str(p.resolve().parent) for p in paths])
    return [os.path.relpath(p.resolve(), root) for p in paths]


def _job(unit: Unit):
    from .run.compress_units import ImageJob, LevelWork
    from .types import ImageSource

    return ImageJob("", ImageSource(key=unit.label or Path(unit.image).name, path=unit.image), unit.codec,
                    tuple(LevelWork(lv, str(i), True, unit.metrics) for i, lv in enumerate(unit.levels)))


def _rows(outcome) -> list[RDRow]:
    """A compression unit's outcome as bench rows (one per level)."""
    job = outcome.job
    label = job.source.key
    if outcome.image_error is not None:
        return [RDRow(label, job.codec, w.level, error=outcome.image_error) for w in job.levels]
    rows = []
    for res in outcome.levels:
        row = RDRow(label, job.codec, res.level, outcome.width, outcome.height, error=res.error)
        if res.error is None:
            row.num_bytes, row.bpp = res.num_bytes, res.bpp
            row.encode_s, row.decode_s = res.encode_s, res.decode_s
            row.metrics = {m: v for m, v in res.metrics.items() if v is not None}
            if res.metric_errors:
                row.error = "; ".join(f"{m}: {e}" for m, e in res.metric_errors.items())
        rows.append(row)
    return rows


def run_units(units: Sequence[Unit], jobs: int = 1,
              options: Mapping[tuple[str, str], Mapping[str, Any]] | None = None) -> Iterator[list[RDRow]]:
    """Yield each unit's rows as it finishes (completion order with jobs > 1).

    The same engine as `cvb run`'s compression stage (cvb.run.compress_units), without a
    cache: codecs and metrics are created once per process, a crashing codec fails only its
    own image. ``options``: ``{(category, name): {key: value}}`` for the components created.
    """
    from .plugins import get_registry
    from .run.compress_units import Workshop, run_jobs

    registry = get_registry()
    opts = {key: dict(value) for key, value in (options or {}).items()}
    workshop = Workshop(lambda category, name: registry.create(category, name, **opts.get((category, name), {})),
                        None)
    for outcome in run_jobs((_job(u) for u in units), workshop, jobs, registry, opts):
        yield _rows(outcome)


def summarize(rows: Sequence[RDRow]) -> list[dict[str, Any]]:
    """Mean per (codec, level) over the images that succeeded, in input order of codecs/levels."""
    groups: dict[tuple[str, str], list[RDRow]] = {}
    for r in rows:
        groups.setdefault((r.codec, r.level), []).append(r)
    out = []
    for (codec, level), rs in groups.items():
        ok = [r for r in rs if r.error is None]
        mean = lambda xs: sum(xs) / len(xs) if xs else math.nan
        names = sorted({m for r in ok for m in r.metrics})
        out.append({
            "codec": codec,
            "level": level,
            "n": len(ok),
            "failed": len(rs) - len(ok),
            "bpp": mean([r.bpp for r in ok]),
            "encode_s": mean([r.encode_s for r in ok]),
            "decode_s": mean([r.decode_s for r in ok]),
            "metrics": {m: mean([r.metrics[m] for r in ok if m in r.metrics]) for m in names},
        })
    return out


#: cvb metric name -> CompressAI results key (so compressai's plot script reads our JSON)
COMPRESSAI_KEYS = {"psnr": "psnr-rgb", "ms-ssim": "ms-ssim-rgb"}


def compressai_json(codec: str, summary: Sequence[dict], rows: Sequence[RDRow],
                    description: str = "") -> dict[str, Any]:
    """CompressAI's results shape: {"name", "description", "results": {"bpp": [...], ...}}."""
    mine = [s for s in summary if s["codec"] == codec]
    results: dict[str, list] = {"bpp": [s["bpp"] for s in mine]}
    for m in sorted({k for s in mine for k in s["metrics"]}):
        results[COMPRESSAI_KEYS.get(m, m)] = [s["metrics"].get(m, math.nan) for s in mine]
    results["encoding_time"] = [s["encode_s"] for s in mine]
    results["decoding_time"] = [s["decode_s"] for s in mine]
    results["level"] = [s["level"] for s in mine]
    return {
        "name": codec,
        "description": description,
        "results": results,
        "per_image": [asdict(r) for r in rows if r.codec == codec],
    }
