import pytest

from pipeline.text.segment import segment, segment_batch


def test_segment_joins_syllables_of_a_word_with_underscores():
    text = "Bác sĩ bây giờ có thể thản nhiên báo tin bệnh nhân bị ung thư"
    words = segment(text).split()
    assert {"Bác_sĩ", "bây_giờ", "có_thể", "thản_nhiên", "bệnh_nhân", "ung_thư"} <= set(words)
    assert "".join(words).replace("_", "") == text.replace(" ", "")


def test_placeholders_survive_segmentation_as_single_words():
    words = segment("gọi xxphone hoặc xem xxurl nhé xxuser").split()
    assert {"xxphone", "xxurl", "xxuser"} <= set(words)


def test_word_spans_point_at_the_words_in_the_text():
    text = "Đúng là bọn mắt híp lò xo thụt :))) bên việt nam"
    [seg] = segment_batch([text])
    assert "lò_xo" in seg.words
    for word, span in zip(seg.words, seg.spans, strict=True):
        assert span is not None
        assert text[span[0] : span[1]].replace(" ", "_") == word


def test_batch_keeps_order_and_segments_repeated_texts_once(monkeypatch):
    import pipeline.text.segment as seg_mod

    texts = ["trời hôm nay đẹp quá", "bác sĩ khám bệnh", "trời hôm nay đẹp quá", ""]
    expected = [segment(t) for t in texts]
    calls = []
    real = seg_mod.segment_tokens
    monkeypatch.setattr(seg_mod, "segment_tokens", lambda ts: calls.extend(ts) or real(ts))
    out = segment_batch(texts)
    assert [s.text for s in out] == expected
    assert sorted(calls) == sorted(set(texts))


def test_parallel_workers_give_the_same_result_as_one(monkeypatch):
    import pipeline.text.segment as seg_mod

    monkeypatch.setattr(seg_mod, "MIN_TEXTS_PER_WORKER", 2)
    texts = [f"bài viết số {i} về giá xăng tăng mạnh ở Hà Nội" for i in range(40)]
    assert segment_batch(texts, workers=2) == segment_batch(texts, workers=1)


def test_one_text_or_many_never_by_accident():
    with pytest.raises(TypeError):
        segment_batch("một câu")
    with pytest.raises(TypeError):
        segment(["một", "danh sách"])


def test_an_emoji_is_never_glued_into_a_word():
    [seg] = segment_batch(["nói v mà cx không hỉu, thật sự 🙄 óc bã đậu"])
    assert "🙄" in seg.words
    assert all("🙄" not in w or w == "🙄" for w in seg.words)
