from pipeline.text.mask import MASK, mask_personal_data


def test_phone_email_and_handle_are_masked_with_the_same_length():
    text = "Gọi 0912 345 678 hoặc +84 912 345 678, mail chi.tran@mail.vn, tag @chi_tran nhé"
    masked = mask_personal_data(text)
    assert len(masked) == len(text)
    for secret in ("0912", "912 345", "chi.tran", "mail.vn", "chi_tran"):
        assert secret not in masked
    assert masked.startswith("Gọi ") and masked.endswith(" nhé")
    assert MASK in masked


def test_offsets_of_other_words_still_point_at_them():
    text = "đm thằng @ban_ay ngu vl, sđt 0987654321"
    masked = mask_personal_data(text)
    start = text.index("ngu")
    assert masked[start : start + 3] == "ngu"


def test_text_without_personal_data_is_unchanged_and_urls_are_not_personal():
    for text in (
        "Giá xăng giảm 320 đồng/lít từ 15h",
        "xem https://vnexpress.net/tin-1.html",
        "năm 2020 có 1.500.000 ca",
    ):
        assert mask_personal_data(text) == text
