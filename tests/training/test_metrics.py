import numpy as np

from pipeline.training.metrics import (
    expected_calibration_error,
    has_no_diacritics,
    has_teencode,
    slice_masks,
)


def test_no_diacritics_slice_means_letters_typed_without_vietnamese_marks():
    assert has_no_diacritics("may ngu qua di")
    assert not has_no_diacritics("mày ngu quá đi")
    assert not has_no_diacritics("đi")  # đ is a Vietnamese letter, not plain ASCII
    assert not has_no_diacritics("12345 :))")  # no letters at all


def test_length_slices_partition_the_texts():
    masks = slice_masks(["ngắn", "x" * 120, "y" * 400])
    lengths = [m for name, m in masks.items() if "chars" in name]
    assert len(lengths) == 3
    assert np.all(np.sum(lengths, axis=0) == 1)


def test_teencode_slice_means_the_normaliser_expands_a_short_form_from_its_table():
    assert has_teencode("ko bít j hết") and has_teencode("Mày ngu vl")
    assert has_teencode("đ.m thằng này")  # joined to "đm", then expanded
    assert not has_teencode("không biết gì hết")
    assert not has_teencode("giá 300 k")  # thousands, not "không"
    assert not has_teencode("K-pop hay")  # glued by -, and an upper-case initial
    assert not has_teencode("Hòa bình đẹppppp")  # changed by the normaliser, not by teencode
    texts = ["dc rồi", "được rồi", "mn ơi", "mọi người ơi"]
    assert slice_masks(texts)["teencode"].tolist() == [True, False, True, False]


def test_calibration_error_is_small_for_calibrated_and_large_for_overconfident_scores():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 20_000)
    calibrated = rng.uniform(size=confidence.size) < confidence
    assert expected_calibration_error(confidence, calibrated) < 0.02
    always_wrong = np.zeros(confidence.size, dtype=bool)
    assert expected_calibration_error(confidence, always_wrong) > 0.7


def test_a_test_set_without_long_posts_gets_empty_slices_not_a_crash(tiny_model):
    from pipeline.text.prepare import prepare
    from pipeline.training.metrics import evaluate

    texts = ["Thằng này ngu vl", "Hôm nay trời đẹp quá", "Bọn nó toàn lũ ăn cắp"]
    result = evaluate(tiny_model, prepare(texts), ["offensive", "clean", "hate"])
    assert result["n"] == 3 and result["macro_f1"] is not None
    long = next(v for k, v in result["slices"].items() if k.startswith("long"))
    assert long["n"] == 0 and long["macro_f1"] is None
    assert set(long["per_class_f1"]) == set(tiny_model.classes_)
    assert all(v is None for v in long["per_class_f1"].values())
