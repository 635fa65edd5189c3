"""``check_metric``: the rules every cvb image-quality metric must keep (see docs/conformance.md).

A finite float; the same number twice; an identical copy scores at least as well as a
distorted one, and a stronger distortion no better than a milder one (in the metric's
direction); odd sizes work.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from .inputs import odd_size_image, photos
from .results import Report
from .spec_agreement import spec_agreement
from .subjects import start


def check_metric(metric: Any, *, options: Mapping[str, Any] | None = None, registry=None) -> Report:
    """Run every metric rule on ``metric`` (a registered name such as ``"psnr"``, or an object)."""
    report, subj = start("metric", metric, options, registry)
    if subj is None:
        return report
    m = subj.obj
    with report.rule("name and higher_is_better") as r:
        assert isinstance(m.name, str) and m.name, "name must be a non-empty string"
        assert isinstance(m.higher_is_better, bool), "higher_is_better must be a bool"
        r.detail = f"name={m.name} higher_is_better={m.higher_is_better}"
    spec_agreement(report, subj)
    ref = next(iter(photos(1).values()))
    mild, strong = _jpeg(ref, 75), _jpeg(ref, 5)
    with report.rule("a finite float, the same twice") as r:
        a, b = m.measure(ref, mild), m.measure(ref, mild)
        assert isinstance(a, (int, float)) and math.isfinite(a), f"measure returned {a!r}"
        assert a == b, f"two measurements of the same pair: {a} and {b}"
        r.detail = f"JPEG q75: {a:.4g}"
    with report.rule("better images score better") as r:
        same, m_mild, m_strong = m.measure(ref, ref.copy()), m.measure(ref, mild), m.measure(ref, strong)
        sign = 1 if m.higher_is_better else -1
        assert sign * same >= sign * m_mild, f"an identical copy scores {same:.4g}, worse than JPEG q75 ({m_mild:.4g})"
        assert sign * m_mild > sign * m_strong, \
            f"JPEG q75 scores {m_mild:.4g}, not better than JPEG q5 ({m_strong:.4g})"
        r.detail = f"identical {same:.4g}, JPEG q75 {m_mild:.4g}, JPEG q5 {m_strong:.4g}"
    with report.rule("odd sizes (33x17) work") as r:
        small = odd_size_image(33, 17)
        value = m.measure(small, _jpeg(small, 50))
        assert isinstance(value, (int, float)) and not math.isnan(value), f"measure returned {value!r}"
        r.detail = f"{value:.4g}"
    return report


def _jpeg(image, quality: int):
    import io

    from PIL import Image

    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        return im.convert("RGB")
