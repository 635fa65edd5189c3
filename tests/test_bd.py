"""BD-metric / BD-rate: cross-checked against the reference ``bjontegaard`` package."""

import math
import warnings

import bjontegaard
import numpy as np
import pytest

from cvb.analysis.bd import METHODS, bd_metric, bd_rate

# (anchor rates, anchor scores, test rates, test scores): score-vs-bpp curves shaped like the
# benchmark's (saturating accuracy), including a classic PSNR set from the BD literature.
CURVES = [
    # JPEG-like anchor vs a better learned codec, 4 levels each, partial overlap
    ([0.19, 0.23, 0.27, 0.30], [60.6, 66.0, 70.9, 73.7],
     [0.12, 0.18, 0.26, 0.40], [76.4, 79.5, 82.0, 84.1]),
    # VCEG-style PSNR curves (kbps, dB)
    ([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 36.845, 34.851],
     [9787.80, 4469.00, 2451.48, 1356.24], [40.121, 38.532, 36.814, 34.820]),
    # 5 vs 6 points, test below anchor
    ([0.05, 0.1, 0.2, 0.4, 0.8], [40.0, 55.0, 66.0, 72.0, 75.0],
     [0.07, 0.12, 0.25, 0.5, 0.9, 1.5], [35.0, 47.0, 58.0, 65.0, 69.0, 70.5]),
    # OCR-like large score units, nearly full overlap
    ([0.1, 0.2, 0.4, 0.8], [360.0, 480.0, 580.0, 700.0],
     [0.11, 0.21, 0.38, 0.85], [575.0, 650.0, 720.0, 773.0]),
    # 3 vs 2 points (Akima falls back to a straight line with 2; cubic is undefined)
    ([0.1, 0.3, 0.9], [50.0, 65.0, 72.0], [0.15, 0.6], [55.0, 71.0]),
]


def _ref(fn, ra, sa, rt, st, method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # low-overlap warnings: we only want the value
        ia, it = np.argsort(ra), np.argsort(rt)
        return fn(np.asarray(ra)[ia], np.asarray(sa)[ia], np.asarray(rt)[it], np.asarray(st)[it],
                  method=method, require_matching_points=False)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("curve", range(len(CURVES)))
def test_bd_metric_matches_bjontegaard_bd_psnr(curve, method):
    ra, sa, rt, st = CURVES[curve]
    ours = bd_metric(ra, sa, rt, st, method=method)
    if min(len(ra), len(rt)) < 4 and method == "cubic":
        assert not ours.defined and "needs >= 4 points" in ours.reason
        return
    ref = _ref(bjontegaard.bd_psnr, ra, sa, rt, st, method)
    assert ours.defined and ours.reason is None
    assert math.isfinite(ref)
    assert ours.value == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("curve", range(len(CURVES)))
def test_bd_rate_matches_bjontegaard(curve, method):
    ra, sa, rt, st = CURVES[curve]
    ours = bd_rate(ra, sa, rt, st, method=method)
    if min(len(ra), len(rt)) < 4 and method == "cubic":
        assert not ours.defined and "needs >= 4 points" in ours.reason
        return
    ref = _ref(bjontegaard.bd_rate, ra, sa, rt, st, method)
    if not math.isfinite(ref):  # no score overlap in the reference too
        assert not ours.defined and "no overlap in score" in ours.reason
        return
    assert ours.defined
    assert ours.value == pytest.approx(ref, abs=1e-6)


def test_bd_rate_defined_on_overlapping_scores():
    # curve 3 overlaps in score (575..700): the check above must not be vacuous there
    ra, sa, rt, st = CURVES[3]
    for method in METHODS:
        res = bd_rate(ra, sa, rt, st, method=method)
        assert res.defined and res.value < 0  # the test codec needs fewer bits
        assert res.interval == pytest.approx((575.0, 700.0))


def test_identical_curves_give_zero():
    r, s = [0.1, 0.2, 0.4, 0.8], [50.0, 60.0, 66.0, 70.0]
    for method in METHODS:
        assert bd_metric(r, s, r, s, method).value == pytest.approx(0.0, abs=1e-12)
        assert bd_rate(r, s, r, s, method).value == pytest.approx(0.0, abs=1e-9)


def test_constant_shift_is_recovered_exactly():
    r, s = [0.1, 0.2, 0.4, 0.8], [50.0, 60.0, 66.0, 70.0]
    res = bd_metric(r, s, r, [v + 3.25 for v in s])
    assert res.value == pytest.approx(3.25, abs=1e-9)
    assert res.overlap == pytest.approx(1.0)
    # halving every rate at equal score: exactly -50 % bits
    rate = bd_rate(r, s, [v / 2 for v in r], s)
    assert rate.value == pytest.approx(-50.0, abs=1e-9)


def test_unsorted_and_repeated_points():
    ra, sa, rt, st = CURVES[0]
    sorted_res = bd_metric(ra, sa, rt, st)
    perm = [2, 0, 3, 1]
    shuffled = bd_metric([ra[i] for i in perm], [sa[i] for i in perm],
                         [rt[i] for i in perm], [st[i] for i in perm])
    assert shuffled.value == pytest.approx(sorted_res.value, abs=1e-12)
    # a repeated rate is merged into one point with the mean score
    dup = bd_metric(ra + [0.27], sa + [72.9], rt, st)
    merged = bd_metric(ra, [60.6, 66.0, 71.9, 73.7], rt, st)
    assert dup.value == pytest.approx(merged.value, abs=1e-12)


def test_no_overlap_in_bpp_reason():
    res = bd_metric([0.1, 0.2], [1.0, 2.0], [0.5, 0.9], [3.0, 4.0])
    assert math.isnan(res.value) and not res.defined
    assert res.reason == "no overlap in bpp: [0.1, 0.2] vs [0.5, 0.9]"
    # touching at one point is no overlap either
    assert not bd_metric([0.1, 0.2], [1, 2], [0.2, 0.4], [3, 4]).defined


def test_too_few_points_reason():
    res = bd_metric([0.1], [1.0], [0.1, 0.2], [1.0, 2.0])
    assert math.isnan(res.value)
    assert res.reason.startswith("anchor needs >= 2 points") and res.reason.endswith("got 1")
    cubic = bd_metric([0.1, 0.2, 0.4], [1, 2, 3], [0.1, 0.2, 0.4, 0.8], [1, 2, 3, 4], "cubic")
    assert "anchor needs >= 4 points" in cubic.reason and "got 3" in cubic.reason
    # two levels at the same bpp count once
    dup = bd_metric([0.1, 0.1], [1, 2], [0.1, 0.2], [1, 2])
    assert "got 1" in dup.reason
    # non-finite and zero-rate points are dropped and said so
    bad = bd_rate([0.1, float("nan"), 0.0], [1, 2, 3], [0.1, 0.2], [1, 2])
    assert "got 1" in bad.reason and "2 non-finite or bpp <= 0 dropped" in bad.reason


def test_non_monotone_bd_rate_reason_but_bd_metric_defined():
    ra, sa = [0.1, 0.2, 0.4, 0.8], [50.0, 62.0, 58.0, 70.0]
    rt, st = [0.1, 0.2, 0.4, 0.8], [52.0, 60.0, 65.0, 71.0]
    res = bd_rate(ra, sa, rt, st)
    assert math.isnan(res.value)
    assert res.reason == "non-monotone score curve for BD-rate (anchor: 50, 62, 58, 70 with rising bpp)"
    assert bd_metric(ra, sa, rt, st).defined
    flat = bd_rate(rt, st, ra, [50.0, 50.0, 60.0, 70.0])
    assert "non-monotone score curve for BD-rate (test: 50, 50, 60, 70" in flat.reason


def test_no_overlap_in_score_reason():
    res = bd_rate([0.1, 0.2], [10.0, 20.0], [0.1, 0.2], [30.0, 40.0])
    assert res.reason == "no overlap in score: [10, 20] vs [30, 40]"


def test_decreasing_scores_lower_is_better():
    # An error score that falls with rate. ``bjontegaard`` asserts rising scores, so check
    # against it on the mirrored (negated, rising) curves: mirroring the score axis leaves
    # the mean log-rate difference over the common score range unchanged.
    ra, sa = [0.1, 0.2, 0.4, 0.8], [9.0, 7.0, 5.5, 4.0]
    rt, st = [0.1, 0.2, 0.4, 0.8], [8.0, 6.0, 4.5, 3.5]
    neg = lambda v: [-x for x in v]
    for method in METHODS:
        ours = bd_rate(ra, sa, rt, st, method)
        ref = _ref(bjontegaard.bd_rate, ra, neg(sa), rt, neg(st), method)
        assert ours.value == pytest.approx(ref, abs=1e-6)
        assert ours.value < 0


def test_unknown_method_and_length_mismatch_raise():
    with pytest.raises(ValueError, match="unknown interpolation"):
        bd_metric([1, 2], [1, 2], [1, 2], [1, 2], method="linear")
    with pytest.raises(ValueError, match="2 rates but 3 scores"):
        bd_metric([1, 2], [1, 2, 3], [1, 2], [1, 2])


def test_as_dict_is_json_safe():
    d = bd_metric([0.1, 0.2], [1.0, 2.0], [0.5, 0.9], [3.0, 4.0]).as_dict()
    assert d["value"] is None and d["reason"].startswith("no overlap")
