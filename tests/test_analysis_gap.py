"""Gap decomposition on hand-worked numbers."""

import math

import pytest

from cvb.analysis.gap import adapter_gains, decompose, gap_rows, parse_adapted
from cvb.errors import UsageError


def test_paper_pope_jpeg_split():
    # The paper's POPE/JPEG case: total 36.29 of which 29.48 is generalization (81 %).
    g = decompose(clean=86.2, compressed=49.91, adapted=79.39)
    assert g.total == pytest.approx(36.29)
    assert g.information == pytest.approx(6.81)
    assert g.generalization == pytest.approx(29.48)
    assert g.generalization_share == pytest.approx(29.48 / 36.29)
    assert g.information + g.generalization == pytest.approx(g.total)


def test_lower_is_better_is_still_score_lost():
    g = decompose(clean=10.0, compressed=25.0, adapted=12.0, higher_is_better=False)
    assert (g.total, g.information, g.generalization) == (15.0, 2.0, 13.0)


def test_zero_total_gap_share_is_nan():
    assert math.isnan(decompose(5, 5, 6).generalization_share)


def test_parse_adapted():
    assert parse_adapted(["qwen=qwen-cve", " a = b "]) == {"qwen": "qwen-cve", "a": "b"}
    for bad in ["qwen", "=x", "x=", "q=q"]:
        with pytest.raises(UsageError):
            parse_adapted([bad])
    with pytest.raises(UsageError, match="two adapted"):
        parse_adapted(["a=b", "a=c"])
    # store labels carry options in brackets: split at the = outside them
    assert parse_adapted(["hf:X[mode=logits]=hf:/ckpt/cve[mode=logits,name=a]"]) == \
        {"hf:X[mode=logits]": "hf:/ckpt/cve[mode=logits,name=a]"}
    assert parse_adapted(["scripted=scripted[mode=logits]"]) == {"scripted": "scripted[mode=logits]"}


def _cell(vlm, codec, level, bpp, score, task="pope"):
    return {"task": task, "vlm": vlm, "codec": codec, "level": level, "bpp": bpp, "score": score,
            "metrics": {}, "score_metric": "f1", "higher_is_better": True, "details": {},
            "n": 10, "n_failed": 0}


CELLS = [
    _cell("base", "none", "-", 24.0, 80.0),
    _cell("base", "jpeg", "10", 0.4, 60.0),
    _cell("base", "jpeg", "5", 0.2, 50.0),     # unsorted on purpose
    _cell("base", "webp", "20", 0.3, 70.0),   # no adapted counterpart
    _cell("ad", "none", "-", 24.0, 79.0),
    _cell("ad", "jpeg", "5", 0.2, 65.0),
    _cell("ad", "jpeg", "10", 0.4, 72.0),
]


def test_gap_rows_from_cells():
    rows = gap_rows(CELLS, {"base": "ad"})
    by = {(r["codec"], r["level"]): r for r in rows}
    assert set(by) == {("jpeg", "5"), ("jpeg", "10"), ("webp", "20")}
    r = by[("jpeg", "5")]
    assert (r["clean"], r["compressed"], r["adapted"]) == (80.0, 50.0, 65.0)
    assert (r["total"], r["information"], r["generalization"]) == (30.0, 15.0, 15.0)
    assert r["reason"] is None
    r = by[("jpeg", "10")]
    assert (r["total"], r["information"], r["generalization"]) == (20.0, 8.0, 12.0)
    w = by[("webp", "20")]
    assert math.isnan(w["adapted"]) and "no cell for adapted VLM ad at webp 20" == w["reason"]
    # the adapted VLM itself gets no rows, and an unrelated mapping gives none
    assert all(r["vlm"] == "base" for r in rows)
    assert gap_rows(CELLS, {"other": "ad"}) == []


def test_gap_rows_without_reference():
    rows = gap_rows([c for c in CELLS if c["codec"] != "none"], {"base": "ad"})
    assert rows and all(r["reason"] == "no uncompressed cell for base on pope" for r in rows)


def test_adapter_gain_is_bd_metric_of_adapted_over_base():
    rows = adapter_gains(CELLS, {"base": "ad"})
    assert [r["codec"] for r in rows] == ["jpeg"]  # webp has no adapted curve
    # two points each: PCHIP is the straight line, so the mean difference is the mean of the
    # endpoint differences: ((65-50) + (72-60)) / 2 = 13.5
    assert rows[0]["bd_metric"]["value"] == pytest.approx(13.5)


def test_like_for_like_base_is_found_and_an_unlike_pair_refused_or_flagged():
    """Everything before ``adapter=`` in a version is the base model and its preprocessing:
    ``--adapted ADAPTED`` takes the VLM with the same part and no adapter; a named base whose
    part differs is refused (its gaps would measure the preprocessing), or flagged on request."""
    from cvb.analysis.gap import resolve_adapted, setup_differences

    versions = {
        "hf:m": ["m@main;mode=logits"],
        "hf:m[image_backend=pil]": ["m@main;mode=logits;image_backend=pil"],
        "adapted-base:a": ["m@main;mode=logits;image_backend=pil;resize=56x56;adapter=off"],
        "adapted:a": ["m@main;mode=logits;image_backend=pil;resize=56x56;adapter=0123abcd"],
        "adapted:native": ["m@main;mode=logits;image_backend=pil;adapter=4567ef01;unseen_codec=error"],
    }
    assert resolve_adapted(["adapted:a"], versions) == ({"adapted-base:a": "adapted:a"}, {})
    # a plain base run under the very same preprocessing is like for like too
    assert resolve_adapted(["adapted:native"], versions)[0] == {"hf:m[image_backend=pil]": "adapted:native"}
    assert setup_differences(versions["hf:m"], versions["adapted:a"]) == [
        "image_backend: (default) (base) vs pil (adapted)", "resize: (default) (base) vs 56x56 (adapted)"]
    with pytest.raises(UsageError, match="resize: .* vs 56x56.*adapted-base:PATH.*--allow-unlike"):
        resolve_adapted(["hf:m=adapted:a"], versions)
    pairs, warnings = resolve_adapted(["hf:m=adapted:a"], versions, allow_unlike=True)
    assert pairs == {"hf:m": "adapted:a"} and warnings["hf:m"].startswith("NOT LIKE FOR LIKE")
    assert resolve_adapted(["adapted-base:a=adapted:a"], versions) == ({"adapted-base:a": "adapted:a"}, {})
    with pytest.raises(UsageError, match="no VLM in the store answered under its base model"):
        resolve_adapted(["adapted:a"], {k: v for k, v in versions.items() if k != "adapted-base:a"})
    with pytest.raises(UsageError, match="no answers of that VLM"):
        resolve_adapted(["adapted:typo"], versions)


def test_condition_label():
    from cvb.analysis.gap import condition_label

    assert condition_label({"jpeg/5": 6}) == "jpeg/5"
    assert condition_label({"jpeg/5": 2, "unconditional": 4}) == "unconditional (4), jpeg/5 (2)"
    assert condition_label({None: 3}) is None


def test_clean_drift_is_the_adapted_minus_the_base_clean_score():
    from cvb.analysis.gap import clean_drift

    (row,) = clean_drift(CELLS, {"base": "ad"})
    assert (row["base"], row["adapted"], row["drift"], row["reason"]) == (80.0, 79.0, -1.0, None)
    # lower is better: the adapted 79 beats the base 80, so the drift is positive (negative = worse)
    worse = [{**c, "higher_is_better": False} for c in CELLS]
    assert clean_drift(worse, {"base": "ad"})[0]["drift"] == 1.0
    no_ref = [c for c in CELLS if not (c["vlm"] == "ad" and c["codec"] == "none")]
    (gone,) = clean_drift(no_ref, {"base": "ad"})
    assert gone["reason"] == "no uncompressed cell for ad on pope" and math.isnan(gone["drift"])
    assert clean_drift(CELLS, {"other": "ad"}) == []
