import numpy as np

from pipeline.similarity import (
    BANDS,
    NEAR_DUPLICATE,
    band_keys,
    fold,
    jaccard,
    shingle_jaccard,
    signature,
)


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
