"""Pearson / Spearman on hand-worked numbers."""

import math

import pytest

from cvb.analysis.correlation import correlate, metric_correlations


def test_hand_worked_pearson_and_spearman():
    # x = 1,2,3; y = 1,3,2: cov sum 1, both variance sums 2 -> r = 0.5; ranks equal the
    # values -> rho = 0.5. With n = 3 the t statistic has 1 degree of freedom (Cauchy):
    # p = 1 - 2 atan(0.5 / sqrt(0.75)) / pi = 1 - 2 (pi/6) / pi = 2/3.
    r = correlate([1, 2, 3], [1, 3, 2], "psnr")
    assert r["pearson"] == pytest.approx(0.5)
    assert r["spearman"] == pytest.approx(0.5)
    assert r["pearson_p"] == pytest.approx(2 / 3)
    assert r["n"] == 3 and r["reason"] is None


def test_monotone_but_not_linear():
    # y = x^2 on 1..4: r = 25 / sqrt(5 * 129); rank order identical -> rho = 1
    r = correlate([1, 2, 3, 4], [1, 4, 9, 16])
    assert r["pearson"] == pytest.approx(25 / math.sqrt(645))
    assert r["spearman"] == pytest.approx(1.0)


def test_undefined_cases_have_reasons():
    few = correlate([1, 2, float("nan")], [1, 2, 3], "ssim")
    assert math.isnan(few["pearson"]) and few["reason"] == "needs >= 3 cells with a finite score and ssim, got 2"
    const = correlate([1, 2, 3], [5, 5, 5], "ssim")
    assert const["reason"] == "ssim is constant across cells"
    assert correlate([4, 4, 4], [1, 2, 3])["reason"] == "the score is constant across cells"


def test_metric_correlations_skip_reference_cell():
    def cell(codec, score, psnr):
        return {"task": "t", "vlm": "v", "codec": codec, "level": "1", "bpp": 0.1,
                "score": score, "metrics": {"psnr": psnr}}
    cells = [cell("none", 99.0, float("inf")), cell("a", 1, 1), cell("a", 2, 3), cell("b", 3, 2)]
    (row,) = metric_correlations(cells)
    assert row["metric"] == "psnr" and row["n"] == 3
    assert row["pearson"] == pytest.approx(0.5)
