"""The condition vocabulary and the fallbacks for what the adapter was not trained on."""

import pytest

from cvb.errors import UsageError
from cvb_adapt.vocabulary import UNCONDITIONAL, Resolver, Vocabulary, parse_condition_map

LEVELS = {"jpeg": ("1", "3", "5", "6"), "elic2022": ("1", "2", "3", "4")}
RANKS = {"jpeg": {lv: float(lv) for lv in LEVELS["jpeg"]}, "elic2022": {lv: float(lv) for lv in LEVELS["elic2022"]}}


def vocab(mode="full"):
    return Vocabulary(LEVELS, mode, RANKS)


def test_classes_per_mode():
    assert vocab("full").size == 8 and vocab("full").index("elic2022", "2") == 5
    assert vocab("codec").size == 2 and vocab("codec").index("elic2022", "4") == 1
    assert vocab("level").size == 4 and vocab("level").index("jpeg", "5") == vocab("level").index("elic2022", "3") == 2
    assert vocab("none").size == 0
    with pytest.raises(UsageError, match="full, codec, level, none"):
        Vocabulary(LEVELS, "some")


def test_trained_cells_resolve_to_their_class():
    r = Resolver(vocab())
    assert r.resolve("jpeg", "5") == (2, "jpeg/5")
    assert r.resolve("elic2022", "1") == (4, "elic2022/1")


def test_unseen_level_takes_the_nearest_trained_level():
    r = Resolver(vocab())
    assert r.resolve("jpeg", "4") == (1, "jpeg/3 (nearest to 4)")  # tie: the lower rate
    assert r.resolve("jpeg", "50") == (3, "jpeg/6 (nearest to 50)")
    ranked = Resolver(vocab(), rank_of=lambda codec, level: 1.1)  # the codec plugin's own order
    assert ranked.resolve("jpeg", "80")[0] == 0
    assert Resolver(vocab(), unseen_level="unconditional").resolve("jpeg", "4") == (UNCONDITIONAL, "unconditional")


def test_unseen_codec_reference_and_unknown_are_unconditional_or_errors():
    r = Resolver(vocab())
    for codec, level in (("webp", "50"), ("none", None), (None, None)):
        assert r.resolve(codec, level) == (UNCONDITIONAL, "unconditional")
    strict = Resolver(vocab(), unseen_codec="error")
    with pytest.raises(UsageError, match="not trained on codec 'webp'.*jpeg=1,3,5,6"):
        strict.resolve("webp", "50")


def test_condition_map():
    m = parse_condition_map("x265:jpeg, hm/47:elic2022/2 ,none:jpeg/6")
    assert m == {("x265", None): ("jpeg", None), ("hm", "47"): ("elic2022", "2"), ("none", None): ("jpeg", "6")}
    r = Resolver(vocab(), m)
    assert r.resolve("x265", "5") == (2, "jpeg/5 (mapped)")
    assert r.resolve("x265", "40")[1] == "jpeg/6 (nearest to 40) (mapped)"
    assert r.resolve("hm", "47") == (5, "elic2022/2 (mapped)")
    assert r.resolve("none", None) == (3, "jpeg/6 (mapped)")
    assert Resolver(vocab(), parse_condition_map("x265/40:jpeg")).resolve("x265", "40")[1] == \
        "jpeg/6 (nearest to 40) (mapped)"
    for bad in ("x265", "x265:", ":jpeg"):
        with pytest.raises(UsageError, match="SRC:DST"):
            parse_condition_map(bad)
    with pytest.raises(UsageError, match="not trained on"):
        Resolver(vocab(), parse_condition_map("x265:webp"))
    with pytest.raises(UsageError, match="not a trained level"):
        Resolver(vocab(), parse_condition_map("x265/3:jpeg/2"))


def test_mode_none_never_conditions():
    assert Resolver(vocab("none")).resolve("jpeg", "1")[0] == UNCONDITIONAL


def test_vocabulary_round_trips_through_json():
    v = vocab("codec")
    assert Vocabulary.from_json(v.as_json()) == v


def test_reference_mapped_without_a_level_is_refused():
    from cvb_adapt.vocabulary import Resolver, Vocabulary, parse_condition_map

    vocab = Vocabulary({"jpeg": ("1", "5")})
    with pytest.raises(UsageError, match="no level to keep.*none:jpeg/5"):
        Resolver(vocab, parse_condition_map("none:jpeg"))
    assert Resolver(vocab, parse_condition_map("none:jpeg/5")).resolve("none", None)[1] == "jpeg/5 (mapped)"
