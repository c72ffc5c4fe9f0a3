import json
from collections import Counter
from statistics import mean

import numpy as np
import pytest

from pipeline.text.similarity import (
    BANDS,
    NEAR_DUPLICATE,
    SUGGEST_MIN,
    band_keys,
    fold,
    jaccard,
    most_similar,
    shingle_jaccard,
    signature,
)
from tests.conftest import DATA


def test_fold_ignores_tone_placement_teencode_diacritics_and_links():
    assert fold("Hoà bình ko xa") == fold("hòa binh không xa") == "hoa binh khong xa"
    assert fold("Xem https://a.vn ngay!!!") == fold("xem ngay")


def test_minhash_estimates_the_jaccard_index():
    a = "Sắp phong toả toàn thành phố từ 0h đêm nay, mọi người đi mua gạo ngay"
    b = "sap phong toa toan thanh pho tu 0h dem nay, mn di mua gao ngay di"
    exact = shingle_jaccard(a, b)
    assert abs(jaccard(signature(a), signature(b)) - exact) < 0.15
    assert exact > NEAR_DUPLICATE


def test_signatures_are_deterministic_and_unrelated_texts_share_no_band():
    a = "Uống nước chanh nóng mỗi sáng chữa khỏi ung thư"
    b = "Giá xăng RON95 giảm 320 đồng mỗi lít từ chiều nay"
    np.testing.assert_array_equal(signature(a), signature(a))
    assert len(band_keys(signature(a))) == BANDS
    assert not set(band_keys(signature(a))) & set(band_keys(signature(b)))
    assert set(band_keys(signature(a))) & set(band_keys(signature(a.upper() + " !!!")))


# The hand-written pair set --------------------------------------------------------------------

PAIRS = DATA / "paraphrase_pairs.jsonl"
SAME_KINDS = ("spelling", "reworded", "shared")
OTHER_KINDS = ("same_topic", "unrelated")


@pytest.fixture(scope="module")
def pairs() -> list[dict]:
    """The pairs with both decisions: grouping (a shared band key and an estimate of at least
    NEAR_DUPLICATE, as the review queue decides) and suggestion (estimate >= SUGGEST_MIN)."""
    with open(PAIRS, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for p in rows:
        sa, sb = signature(p["a"]), signature(p["b"])
        estimate = jaccard(sa, sb)
        p["grouped"] = bool(set(band_keys(sa)) & set(band_keys(sb))) and estimate >= NEAR_DUPLICATE
        p["suggested"] = estimate >= SUGGEST_MIN
    return rows


def _report(pairs: list[dict], decision: str) -> tuple[float, dict[str, float]]:
    """Precision of a decision and, per kind, the share of pairs it accepts; printed."""
    accepted = [p for p in pairs if p[decision]]
    precision = sum(p["same"] for p in accepted) / len(accepted)
    recall = sum(p["same"] for p in accepted) / sum(p["same"] for p in pairs)
    share = {
        kind: mean(p[decision] for p in pairs if p["kind"] == kind)
        for kind in (*SAME_KINDS, *OTHER_KINDS)
    }
    print(f"\n{decision}: precision {precision:.3f} recall {recall:.3f} "
          + " ".join(f"{kind} {v:.2f}" for kind, v in share.items()))
    return precision, share


def test_the_pair_set_holds_every_kind_with_hard_negatives(pairs):
    assert 60 <= len(pairs) <= 100
    for p in pairs:
        assert set(p) >= {"a", "b", "same", "kind"} and p["a"] != p["b"], p
        assert p["same"] is (p["kind"] in SAME_KINDS), p
    kinds = Counter(p["kind"] for p in pairs)
    assert set(kinds) == {*SAME_KINDS, *OTHER_KINDS}
    assert kinds["same_topic"] >= 15 and kinds["reworded"] >= 15


def test_grouping_is_precise_and_groups_every_spelling_variant(pairs):
    # A wrong join hands a decided label to a post making another claim: at most 1 in 20 on
    # a set built around hard negatives (measured 33 of 34; the wrong one is two lockdown
    # posts of one template naming different cities).
    precision, share = _report(pairs, "grouped")
    assert precision >= 0.95
    assert share["spelling"] == 1.0
    assert share["shared"] >= 0.8


def test_suggestions_are_precise_and_reach_rewordings_the_groups_miss(pairs):
    # Suggestions are a ranked short list a person reads: rewordings (what grouping misses)
    # matter most, and most of what is shown must still be the same claim.
    assert SUGGEST_MIN < NEAR_DUPLICATE
    precision, share = _report(pairs, "suggested")
    grouped = mean(p["grouped"] for p in pairs if p["kind"] == "reworded")
    assert precision >= 0.85
    assert share["spelling"] == 1.0
    assert share["reworded"] >= 0.85 and share["reworded"] > grouped


@pytest.mark.parametrize("minimum, floor", [(0.0, 0.9), (SUGGEST_MIN, 0.85)])
def test_most_similar_ranks_a_reworded_posts_partner_in_the_top_five(pairs, minimum, floor):
    texts = sorted({t for p in pairs for t in (p["a"], p["b"])})
    sigs = {t: signature(t) for t in texts}
    found = []
    for p in pairs:
        if p["kind"] != "reworded":
            continue
        for query, partner in ((p["a"], p["b"]), (p["b"], p["a"])):
            others = [(t, sigs[t]) for t in texts if t != query]
            top = most_similar(sigs[query], others, k=5, minimum=minimum)
            found.append(partner in [key for key, _ in top])
    print(f"\nreworded partner in the top 5 at minimum {minimum:.2f}: {mean(found):.2f} "
          f"of {len(found)}")
    assert mean(found) >= floor


# most_similar ---------------------------------------------------------------------------------

HOAX = "Uống nước chanh nóng mỗi sáng sẽ tiêu diệt tế bào ung thư, bác sĩ đã xác nhận"
POSTS = [
    (7, "Giá xăng RON95 giảm 320 đồng mỗi lít từ chiều nay"),
    (3, "uong nuoc chanh nong moi sang se tieu diet te bao ung thu"),
    (5, "Uống nước chanh nóng mỗi sáng sẽ tiêu diệt tế bào ung thư!!! 🙏"),
    (1, "Uống nước chanh nóng mỗi sáng sẽ tiêu diệt tế bào ung thư"),
    (4, "Ăn tỏi sống mỗi ngày giúp phòng ngừa virus corona"),
]


def test_most_similar_orders_by_similarity_then_key_and_matches_jaccard():
    query = signature(HOAX)
    result = most_similar(query, POSTS, k=5, minimum=0.0)
    sims = [s for _, s in result]
    assert sims == sorted(sims, reverse=True)
    for key, s in result:
        assert s == jaccard(query, signature(dict(POSTS)[key]))
    # 1, 3 and 5 fold to the same text: equal similarity, ordered by key whatever the input order
    assert [key for key, _ in result[:3]] == [1, 3, 5]
    assert most_similar(query, POSTS[::-1], k=5, minimum=0.0) == result


def test_most_similar_respects_k_and_minimum():
    everything = most_similar(HOAX, POSTS, k=10, minimum=0.0)
    assert len(everything) == len(POSTS)
    assert most_similar(HOAX, POSTS, k=2, minimum=0.0) == everything[:2]
    assert most_similar(HOAX, POSTS, k=0) == []
    suggested = most_similar(HOAX, POSTS)  # default minimum SUGGEST_MIN
    assert suggested == [(k, s) for k, s in everything if s >= SUGGEST_MIN]
    assert {k for k, _ in suggested} == {1, 3, 5}
    assert most_similar(HOAX, POSTS, minimum=1.01) == []


def test_most_similar_takes_texts_or_signatures_and_refuses_mistakes():
    by_text = most_similar(HOAX, POSTS, minimum=0.0)
    signed = [(k, signature(t)) for k, t in POSTS]
    assert most_similar(signature(HOAX), signed, minimum=0.0) == by_text
    assert most_similar(HOAX, dict(signed), minimum=0.0) == by_text
    stored = [(k, np.frombuffer(s.tobytes(), dtype=np.uint64)) for k, s in signed]
    assert most_similar(HOAX, stored, minimum=0.0) == by_text
    assert most_similar(HOAX, []) == []
    assert most_similar("!!! 😀", POSTS, minimum=0.0) == []  # nothing left after fold
    with pytest.raises(TypeError, match="pairs"):
        most_similar(HOAX, "Giá xăng RON95 giảm")
    with pytest.raises(TypeError, match="candidate 1 should be a"):
        most_similar(HOAX, [POSTS[0], "Giá xăng"])
    with pytest.raises(ValueError, match="candidate 9: expected a signature of 64 uint64"):
        most_similar(HOAX, [*signed, (9, signature(HOAX).astype(np.int64))])
    with pytest.raises(ValueError, match="k to be an integer"):
        most_similar(HOAX, POSTS, k=-1)
