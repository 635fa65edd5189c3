"""The fidelity floor of ``check_codec``: the decoded image at the highest rate tested must
resemble the input, so a decoder returning black, a constant or another picture cannot pass.

A codec that reconstructs pixels (kind ``traditional`` or ``learned``) is held to a mean PSNR
of ``PSNR_FLOOR_DB`` over the photos. Measured on the two bundled photos: JPEG quality 1 gives
21.6-21.8 dB; their mean colour as a flat image 12.7-17.5 dB, grey 10-15 dB, black 6.3 dB,
a mirrored copy 11.8-14.6 dB. A lossy-generative codec (``kind = "generative"``: a diffusion
decoder that invents texture) may score a low PSNR at a faithful picture, so it is held to a
perceptual bound instead: the correlation of the images' luminance at 1/8 scale (their layout
of light and dark, which such a decoder keeps and a constant, a mirror or another photo does
not) of at least ``STRUCTURE_FLOOR``: JPEG quality 1 gives 0.97-0.99 on the photos, a mirrored
copy -0.02-0.43, the other photo -0.12, a flat image none (no variance: 0).
"""

from __future__ import annotations

from typing import Any

from .results import Report

PSNR_FLOOR_DB = 20.0
STRUCTURE_FLOOR = 0.6
COARSE = 8  # the scale of the structure bound: 1/8 of each side
RULE = "the decoded image resembles the input"


def psnr_db(a, b) -> float:
    import numpy as np

    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    mse = float((diff * diff).mean())
    return 99.0 if mse == 0 else 10.0 * float(np.log10(255.0 ** 2 / mse))


def coarse_structure(a, b) -> float:
    """Pearson correlation of the two images' luminance, box-reduced to 1/``COARSE`` of each side
    (0 where either is flat)."""
    import numpy as np
    from PIL import Image

    def luma(im):
        w, h = im.size
        small = im.convert("L").resize((max(1, w // COARSE), max(1, h // COARSE)), Image.Resampling.BOX)
        return np.asarray(small, dtype=np.float64).ravel()

    x, y = luma(a), luma(b)
    x, y = x - x.mean(), y - y.mean()
    denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return 0.0 if denom == 0 else float((x * y).sum() / denom)


def fidelity_rule(report: Report, codec: Any, level: str, outs, pictures) -> None:
    """``outs``: ``[(photo name, Compressed)]`` at ``level``, the highest rate tested."""
    from ..types import CodecKind

    generative = str(getattr(codec.kind, "value", codec.kind)) == CodecKind.GENERATIVE.value
    with report.rule(RULE) as r:
        assert outs, f"level {level} coded no photo (see above): nothing to compare"
        if generative:
            scores = {name: coarse_structure(pictures[name], out.image) for name, out in outs}
            shown = ", ".join(f"{n}: {v:.2f}" for n, v in scores.items())
            mean = sum(scores.values()) / len(scores)
            assert mean >= STRUCTURE_FLOOR, (
                f"at level {level} (the highest rate tested) the decoded images do not follow the input: "
                f"luminance correlation at 1/{COARSE} scale {shown}, mean {mean:.2f} < {STRUCTURE_FLOOR} "
                f"(the perceptual bound of a generative codec): a decoder returning a constant, black "
                f"or unrelated image fails here")
            r.detail = f"generative: luminance correlation at 1/{COARSE} scale at level {level}: {shown} " \
                       f"(floor {STRUCTURE_FLOOR})"
            return
        scores = {name: psnr_db(pictures[name], out.image) for name, out in outs}
        shown = ", ".join(f"{n}: {v:.1f} dB" for n, v in scores.items())
        mean = sum(scores.values()) / len(scores)
        assert mean >= PSNR_FLOOR_DB, (
            f"at level {level} (the highest rate tested) PSNR against the input is {shown}, mean "
            f"{mean:.1f} dB < {PSNR_FLOOR_DB:g} dB: the decoder does not give the picture back (a black "
            f"or constant image scores 6-18 dB). A lossy-generative codec declares kind = "
            f"'generative' and is held to a perceptual bound instead; random weights: skip 'fidelity'")
        r.detail = f"PSNR at level {level}: {shown} (floor {PSNR_FLOOR_DB:g} dB)"
