"""The rate-distortion bench behind `cvb compress`: codecs x levels over images.

Work is cut into units of (image, codec): the image is read once and every level of that
codec is run on it, so a worker process amortises decoding the original. With ``jobs == 1``
everything runs in this process (no pool overhead); with ``jobs > 1`` a process pool whose
workers build the plugin registry once each.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .errors import CvbError


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


class _Worker:
    """Per-process cache of codec and metric instances (models load once per process)."""

    def __init__(self) -> None:
        self.codecs: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}

    def codec(self, name: str):
        if name not in self.codecs:
            from .plugins import get_registry

            self.codecs[name] = get_registry().create("codec", name)
        return self.codecs[name]

    def metric(self, name: str):
        if name not in self.metrics:
            from .plugins import get_registry

            self.metrics[name] = get_registry().create("metric", name)
        return self.metrics[name]

    def run(self, unit: Unit) -> list[RDRow]:
        from .codec import compress
        from .imageio import load_image

        label = Path(unit.image).name
        try:
            original = load_image(unit.image)
        except CvbError as exc:
            return [RDRow(label, unit.codec, lv, error=str(exc)) for lv in unit.levels]
        codec = self.codec(unit.codec)
        rows = []
        for level in unit.levels:
            row = RDRow(label, unit.codec, level, width=original.width, height=original.height)
            try:
                out = compress(codec, original, level)
                row.num_bytes, row.bpp = out.num_bytes, out.bpp
                row.encode_s, row.decode_s = out.encode_s, out.decode_s
                for m in unit.metrics:
                    row.metrics[m] = float(self.metric(m).measure(original, out.image))
            except CvbError as exc:
                row.error = str(exc)
            rows.append(row)
        return rows


_WORKER: _Worker | None = None


def _run_in_worker(unit: Unit) -> list[RDRow]:
    global _WORKER
    if _WORKER is None:
        _WORKER = _Worker()
    return _WORKER.run(unit)


def run_units(units: Sequence[Unit], jobs: int = 1,
              on_done: Callable[[list[RDRow]], None] | None = None) -> Iterator[list[RDRow]]:
    """Yield each unit's rows as it finishes (completion order with jobs > 1)."""
    if jobs <= 1:
        worker = _Worker()
        for unit in units:
            yield worker.run(unit)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # fork is cheap and inherits the loaded registry; spawn elsewhere (macOS/Windows default)
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [pool.submit(_run_in_worker, u) for u in units]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def summarize(rows: Sequence[RDRow]) -> list[dict[str, Any]]:
    """Mean per (codec, level) over the images that succeeded, in input order of codecs/levels."""
    groups: dict[tuple[str, str], list[RDRow]] = {}
    for r in rows:
        groups.setdefault((r.codec, r.level), []).append(r)
    out = []
    for (codec, level), rs in groups.items():
        ok = [r for r in rs if r.error is None]
        mean = lambda xs: sum(xs) / len(xs) if xs else math.nan  # noqa: E731
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
