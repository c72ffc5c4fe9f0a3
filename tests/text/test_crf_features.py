"""pipeline.text.crf_features gives exactly what underthesea gives, only faster.

Reference: ``underthesea_core.CRFFeaturizer.process`` for the feature strings and
``underthesea.word_tokenize(text, use_token_normalize=False)`` for the words, on a seeded
sample of the reference corpora (the full corpora, raw and normalised, were compared once
by hand: no difference) and on inputs made to hit each quirk.
"""

from __future__ import annotations

import csv
import random
import sys

import pytest
from underthesea import word_tokenize
from underthesea.pipeline.word_tokenize.regex_tokenize import tokenize

from pipeline.text import crf_features
from pipeline.text.normalise import normalise_with_offsets
from tests.conftest import require_corpora

# Corpus, text column, rows sampled per split: ReINTEL posts are long, so fewer of them.
SAMPLE = (("vihsd", "free_text", 550), ("vihos", "content", 250), ("reintel", "post_message", 40))

# Each hits a corner: a token with a space ("Th S" matches underthesea's "Th.S"), a tab
# inside a token, "$"-lookaheads at the end and before a final newline, ":D" emoticons,
# letters whose case mapping is newer than Python's Unicode tables, final sigma, digits
# that are not i32s, emoji, URLs and e-mails split at whitespace, empty and blank texts.
CORNERS = [
    "",
    "   ",
    "\n",
    "Th S",
    "gặp Th Sơn và Th.S Lan",
    "Th\tsáng nay",
    "Th\nSáng",
    "ĐHQG.",
    "ĐHQG. ",
    "ĐHQG.\n",
    "ĐHQG.\n\n",
    "xem ĐHQG. đi",
    "vui :D",
    "vui :D\n",
    ":D nhé",
    "haha =)))) :))",
    "ƛ ɤ \ua7cb \ua7cc \u1c89 Ǆ ǅ ß İ ŉ",
    "ΑΣ ΣΑ Σ. ÓΣ' ΌΣΟΣ",
    "2147483647 2147483648 -5 +5 007 ٣ ² 1.000.000 3x4 4K 43H-0530",
    "😂😂 bá đạo 🙄 óc bã đậu 👍🏻",
    "vào https://t.co/abc?x=1 hoặc foo.na@example.com, www.vnexpress.net/a nhé",
    "H&M T.Ư Tp. Mr. e-mail NĐ-CP v.v... ---> ==> °C",
    "Bác sĩ bây giờ có thể thản nhiên báo tin bệnh nhân bị ung thư",
    "BÁC SĨ\u00a0BÂY GIỜ\u2028có thể\x1cthản nhiên",
    "ð Ð đ",
    "ự\u0301 a\u0300 e\u0323\u0302",
]


def _corpus_sample(seed: int = 20240607) -> list[str]:
    root = require_corpora()
    csv.field_size_limit(2**31 - 1)
    rng = random.Random(seed)
    texts = []
    for corpus, column, per_split in SAMPLE:
        for path in sorted((root / corpus).glob("*.csv")):
            with open(path, encoding="utf-8", newline="") as f:
                rows = [r[column] or "" for r in csv.DictReader(f)]
            texts += rng.sample(rows, min(per_split, len(rows)))
    return texts


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    """Normalised sample texts (what the pipeline segments), then a few raw ones."""
    raw = _corpus_sample()
    return [normalise_with_offsets(t).text for t in raw] + raw[::10]


@pytest.fixture(scope="module")
def rust():
    word_tokenize("khởi động")
    return sys.modules[word_tokenize.__module__].word_tokenize_model.featurizer


def _rust_features(rust, tokens):
    return rust.process([[[t] for t in tokens]])[0]


def test_words_are_underthesea_words_on_real_posts(corpus_texts):
    expected = [word_tokenize(t, use_token_normalize=False) for t in corpus_texts]
    assert crf_features.segment_tokens(corpus_texts) == expected


def test_feature_strings_are_the_rust_featurizer_strings_on_real_posts(corpus_texts, rust):
    texts = corpus_texts[::2]  # the Rust featurizer is the slow part: half is plenty
    sentences = [tokenize(t, use_token_normalize=False) for t in texts]
    assert [crf_features.regex_tokens(t) for t in texts] == sentences
    sentences = [s for s in sentences if s]
    expected = [_rust_features(rust, s) for s in sentences]
    assert crf_features.featurize(sentences) == expected
    # The tagger gets the same strings less those its model does not know ...
    known = crf_features._get().known
    assert known is not None
    assert crf_features.tagger_features(sentences) == [
        [[f for f in token if f in known] for token in sentence] for sentence in expected
    ]


def test_the_tagger_scores_known_features_exactly_as_all_of_them(corpus_texts, rust):
    # ... and, as it ignores unknown strings, scores them to the last bit the same.
    tagger = crf_features._get().tagger
    sentences = [s for s in (tokenize(t, use_token_normalize=False) for t in corpus_texts) if s]
    for sentence in sentences[:500]:
        full = _rust_features(rust, sentence)
        assert tagger.tag_with_score(crf_features.tagger_features([sentence])[0]) == (
            tagger.tag_with_score(full)
        )


@pytest.mark.parametrize("text", CORNERS)
def test_corner_cases_match_underthesea(text, rust):
    tokens = tokenize(text, use_token_normalize=False)
    assert crf_features.regex_tokens(text) == tokens
    assert crf_features.segment_tokens([text]) == [word_tokenize(text, use_token_normalize=False)]
    if tokens:
        assert crf_features.featurize([tokens]) == [_rust_features(rust, tokens)]


def test_a_token_with_a_space_goes_to_the_rust_featurizer(rust):
    tokens = tokenize("gặp Th Sơn", use_token_normalize=False)
    assert "Th S" in tokens  # underthesea's "Th.S" pattern: "." matches the space
    assert crf_features.featurize([tokens]) == [_rust_features(rust, tokens)]


def test_made_up_sentences_match_the_rust_featurizer(rust):
    """BOS/EOS padding, span joins, isdigit, istitle, dictionary look-ups, 1 to 6 tokens."""
    vocab = [
        "Bác", "sĩ", "bác", "SĨ", "2", "-5", "+7", "2147483648", "٣", "²", ":)", ",", "ΑΣ",
        "ß", "ǅ", "\ua7cb", "ɤ", "🤣", "Hà", "Nội", "hà", "nội", "ung", "thư", "x",
    ]  # fmt: skip
    rng = random.Random(7)
    sentences = [[rng.choice(vocab) for _ in range(rng.randint(1, 6))] for _ in range(400)]
    assert crf_features.featurize(sentences) == [_rust_features(rust, s) for s in sentences]


def test_python_case_mapping_is_used_only_where_it_agrees_with_rust():
    from underthesea_core import CRFFeaturizer

    case = CRFFeaturizer(["T[0].lower", "T[0].istitle"], set())
    chars = sorted(crf_features.SAFE_CHARS - {" "})
    got = case.process([[[c] for c in chars]])[0]
    assert got == [[f"T[0].lower={c.lower()}", f"T[0].istitle={c == c.upper()}"] for c in chars]
    # Outside that set Rust answers: U+A7CB is "Ɤ", uppercase of "ɤ" since Unicode 16.
    record = crf_features._get().full_features._record("\ua7cbx")
    assert record[24] == "ɤx"  # the lowercase, as Rust gives it


@pytest.mark.parametrize(
    "token", ["0", "007", "+5", "-5", "-", "+", "2147483647", "2147483648", "-2147483648",
              "-2147483649", "٣", "²", "1_0", "1.0", " 1", "0x1", "+-1"],
)  # fmt: skip
def test_isdigit_is_rusts_i32_parse(token):
    from underthesea_core import CRFFeaturizer

    [[[feature]]] = CRFFeaturizer(["T[0].isdigit"], set()).process([[[token]]])
    assert feature == f"T[0].isdigit={crf_features.parses_as_i32(token)}"


def test_the_attribute_table_is_the_one_the_tagger_loaded(tmp_path):
    from underthesea_core import CRFModel

    seg = crf_features._get()
    path = crf_features.model_dir() / "models.bin"
    assert len(seg.known) == CRFModel.load(str(path)).num_attributes
    assert "T[0].istitle=True" in seg.known
    not_crfsuite = tmp_path / "models.bin"
    not_crfsuite.write_bytes(b"UTCF" + path.read_bytes()[4:64])
    assert crf_features.model_attributes(str(not_crfsuite)) is None


def test_caches_stay_bounded_and_results_do_not_change(monkeypatch, corpus_texts):
    texts = corpus_texts[:300]
    expected = crf_features.segment_tokens(texts)
    monkeypatch.setattr(crf_features, "MAX_CACHED", 50)
    seg = crf_features._get()
    seg.chunks.clear()
    seg.last_chunks.clear()
    seg.tagger_features.cache.clear()
    assert crf_features.segment_tokens(texts) == expected
    assert len(seg.chunks) <= 50
    assert len(seg.last_chunks) <= 50
    assert len(seg.tagger_features.cache) <= 50
