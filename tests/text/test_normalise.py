"""Tests for pipeline.text.normalise.

Golden cases live in tests/data/normalise_golden.jsonl, one JSON object per line:
{"id": "<rule>-<n>", "input": ..., "expected": ...}. JSON string escapes (\\u200b, \\u0300)
are used for invisible and combining characters so the file stays readable. A case whose
input equals its expected output is a negative case: the text must come out unchanged.
"""

from __future__ import annotations

import csv
import doctest
import importlib
import itertools
import json
import random
import re
import unicodedata
from pathlib import Path

import pytest

from pipeline.errors import KiemtinError
from pipeline.text.normalise import (
    NORMALISER_NAME,
    NORMALISER_VERSION,
    Normalised,
    Normaliser,
    normalise,
    normalise_with_offsets,
)
from tests.conftest import DATA, require_corpora

# The module itself: `pipeline.text.normalise` the attribute is the function of the same name.
normalise_module = importlib.import_module("pipeline.text.normalise")

GOLDEN = DATA / "normalise_golden.jsonl"
RESOURCES = Path(normalise_module.__file__).resolve().parent / "resources"

# What rule 1 removes; none of it may survive, and whitespace other than " " may not either.
REMOVED = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\xad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff]"
)
# Latin combining marks: after normalising, every one is composed into a letter or dropped.
LATIN_MARK = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\ufe20-\ufe2f]")
OTHER_WHITESPACE = re.compile(r"[^\S ]")


def _golden() -> list[dict[str, str]]:
    with GOLDEN.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


GOLDEN_CASES = _golden()


@pytest.fixture(scope="module")
def vihsd_texts() -> list[str]:
    with (require_corpora() / "vihsd" / "train.csv").open(encoding="utf-8", newline="") as f:
        return [row["free_text"] for row in itertools.islice(csv.DictReader(f), 2000)]


def check_offsets(original: str, result: Normalised) -> None:
    """Every normalised char maps to a non-empty, in-range, monotonic span of the original,
    and the whole text maps to a span that holds every visible original character."""
    text, starts, ends = result.text, result.starts, result.ends
    assert len(starts) == len(ends) == len(text)
    for i in range(len(text)):
        assert 0 <= starts[i] < ends[i] <= len(original), (i, starts[i], ends[i])
        if i:
            assert starts[i - 1] <= starts[i] and ends[i - 1] <= ends[i], i
    if not text:
        assert not LATIN_MARK.sub("", REMOVED.sub("", original)).strip()
        return
    lo, hi = result.to_original(0, len(text))
    outside = LATIN_MARK.sub("", REMOVED.sub("", original[:lo] + original[hi:]))
    assert not outside.strip(), f"visible text outside the span: {outside!r}"


# --- golden ------------------------------------------------------------------------------


def test_golden_file_covers_every_rule_with_enough_cases():
    rules = {case["id"].rsplit("-", 1)[0] for case in GOLDEN_CASES}
    assert len(GOLDEN_CASES) >= 60
    assert {"space", "nfc", "lookalike", "squeeze", "placeholder", "obfuscation", "tone",
            "teencode"} <= rules  # fmt: skip
    assert len({case["id"] for case in GOLDEN_CASES}) == len(GOLDEN_CASES)
    assert sum(case["input"] == case["expected"] for case in GOLDEN_CASES) >= 10


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=[c["id"] for c in GOLDEN_CASES])
def test_golden(case):
    got = normalise(case["input"])
    assert got == case["expected"], (
        f"\n  input:    {case['input']!r}\n  expected: {case['expected']!r}\n  got:      {got!r}"
    )


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=[c["id"] for c in GOLDEN_CASES])
def test_golden_offsets_are_consistent(case):
    result = normalise_with_offsets(case["input"])
    assert result.text == case["expected"]
    check_offsets(case["input"], result)


# --- offsets: the words found in normalised text highlight the right original text -------


def span_of(original: str, normalised_word: str, occurrence: int = 0) -> str:
    result = normalise_with_offsets(original)
    starts = [m.start() for m in re.finditer(re.escape(normalised_word), result.text)]
    start = starts[occurrence]
    lo, hi = result.to_original(start, start + len(normalised_word))
    return original[lo:hi]


@pytest.mark.parametrize(
    ("original", "word", "expected"),
    [
        ("Thg  đó ko biết", "không", "ko"),
        ("KO ĐI ĐC", "ĐƯỢC", "ĐC"),
        ("bọn\u00a0 đ.m chúng mày", "địt mẹ", "đ.m"),
        ("bọn đ.m chúng mày", "mẹ", "đ.m"),  # part of an expansion maps to the whole short form
        ("mày n g u lắm", "ngu", "n g u"),
        ("cái l**n gì", "lồn", "l**n"),
        ("ôi vờ cờ lờ thật", "lồn", "vờ cờ lờ"),
        ("th4ng kia", "thang", "th4ng"),
        ("xem https://t.co/abc?x=1, rồi gọi 0912 345 678.", "xxurl", "https://t.co/abc?x=1"),
        ("xem https://t.co/abc?x=1, rồi gọi 0912 345 678.", "xxphone", "0912 345 678"),
        ("mail a.b@gmail.com @nguyen_van.a", "xxemail", "a.b@gmail.com"),
        ("mail a.b@gmail.com @nguyen_van.a", "xxuser", "@nguyen_van.a"),
        ("đẹppppp quáaaaa", "đẹp", "đẹppppp"),
        ("đẹppppp quáaaaa", "quá", "quáaaaa"),
        ("wow!!!!!! thật", "!!!", "!!!!!!"),
        ("trời hoà bình", "hòa", "hoà"),
        ("Hoa\u0300 bình", "Hòa", "Hoa\u0300"),  # NFD input: spans cover the decomposed marks
        ("thằng ng\u200bu", "ngu", "ng\u200bu"),
        ("Ðảm baỏ chất lựơng", "lượng", "lựơng"),
        ("ko ko ko", "không", "ko"),
    ],
)
def test_to_original_highlights_the_original_word(original, word, expected):
    assert span_of(original, word) == expected


def test_to_original_of_a_later_occurrence():
    assert span_of("ko đi, KO ĐI", "KHÔNG") == "KO"
    result = normalise_with_offsets("ko ko")
    assert result.to_original(6, 11) == (3, 5)


def test_tone_fix_maps_the_moved_mark_to_both_vowels():
    result = normalise_with_offsets("Hoa\u0300")
    assert result.text == "Hòa"
    assert result.to_original(0, 1) == (0, 1)  # untouched letters keep their own span
    assert result.to_original(1, 2) == (1, 4)  # ò came from "oa" + the combining grave


def test_to_original_empty_and_invalid_spans():
    result = normalise_with_offsets("  ko  ")
    assert result.text == "không"
    assert result.to_original(0, 0) == (2, 2)
    assert result.to_original(5, 5) == (4, 4)
    assert normalise_with_offsets("").to_original(0, 0) == (0, 0)
    with pytest.raises(ValueError, match="not inside"):
        result.to_original(3, 9)
    with pytest.raises(ValueError, match="not inside"):
        result.to_original(3, 2)


def test_no_edit_lets_a_following_mark_compose():
    guard = normalise_module._before_no_mark
    # "x" + acute does not compose, but "a" + acute would: that edit is dropped.
    assert guard("x\u0301", [(0, 1, "a")]) == []
    assert guard("x\u0301", [(0, 1, "b")]) == [(0, 1, "b")]
    assert guard("xy", [(0, 1, "a")]) == [(0, 1, "a")]


# --- properties on the golden inputs and on real posts -----------------------------------


def check_properties(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once, f"not idempotent: {text!r} -> {once!r} -> {normalise(once)!r}"
    assert "  " not in once and once == once.strip()
    assert not REMOVED.search(once) and not OTHER_WHITESPACE.search(once), repr(once)
    assert unicodedata.is_normalized("NFC", once), repr(once)
    assert not LATIN_MARK.search(once), repr(once)
    assert "Ð" not in once and "ð" not in once and "Ɖ" not in once


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=[c["id"] for c in GOLDEN_CASES])
def test_golden_properties(case):
    check_properties(case["input"])


def test_properties_on_real_posts(vihsd_texts):
    assert len(vihsd_texts) == 2000
    changed = 0
    for text in vihsd_texts:
        check_properties(text)
        result = normalise_with_offsets(text)
        assert result.text == normalise(text)
        check_offsets(text, result)
        changed += result.text != text
    assert changed > 200  # the rules do fire on real posts (teencode alone is common)


# Pieces that exercise every rule and their seams: invisibles next to marks, marks that do
# and do not compose, separators, short forms, URL and phone parts, other scripts' marks.
FUZZ_PIECES = [
    "ko", "k", "K", "đ", "m", "d", "n", "g", "u", "ng", "gi", "qu", "a", "o", "à", "ó", "ư",
    "ý", "y", "e", "ê", "é", "h", "x", "xx", "url", ".", "*", "-", "_", " ", "  ", "\n",
    "\t", "\xa0", "\u200b", "\xad", "\x00", "\u0300", "\u0301", "\u0323", "\u0302",
    "\u0328", "\ufe0f", "\u20e3", "\u0e38", "\u093c", "\u0b47", "\u0b3e", "\u1161",
    "\u212b", "\u0340", "Ð", "ð", "ą", "ę", "!", "😂", "❤", "@", "/", "+", "0", "9", "84",
    "www.", "http://", ".com", ".vn", "vn", "VN", "TP", "HCM", "CCC", "ppp", "aaa", "kkkk",
    "l*n",
]  # fmt: skip


def test_properties_on_random_strings():
    rng = random.Random(20240611)
    for _ in range(4000):
        text = "".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(0, 14)))
        check_properties(text)
        result = normalise_with_offsets(text)
        assert result.text == normalise(text)
        check_offsets(text, result)


# --- the resource tables -----------------------------------------------------------------


def test_teencode_table_is_large_clean_and_canonical():
    table = Normaliser().teencode
    assert len(table) >= 60
    for short, expansion in table.items():
        assert short == short.lower() and short.isalpha(), short
        # An expansion is already normal: tones placed, no short form inside, no single
        # letters (which rule 6 could join on a second pass).
        assert normalise(expansion) == expansion, (short, expansion)
        assert all(len(word) > 1 for word in expansion.split()), (short, expansion)
    for ambiguous in ["a", "e", "m", "t", "v", "h", "nc", "bt", "đb", "db", "deo", "vc", "tp"]:
        assert ambiguous not in table, f"{ambiguous!r} is ambiguous and must stay out"


def test_obfuscation_targets_are_words_or_teencode():
    table = Normaliser().teencode
    for line in (RESOURCES / "obfuscation_words.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        word = line.split("\t")[-1]
        assert word in table or normalise(word) == word, word


def test_custom_tables(tmp_path):
    custom = Normaliser(extra_teencode={"hqua": "hôm qua"}, extra_targets=["xấu"])
    assert custom.normalise("Hqua x.ấ.u ko") == "Hôm qua xấu không"
    assert normalise("hqua x.ấ.u") == "hqua x.ấ.u"  # the default instance is unchanged

    table = tmp_path / "tc.tsv"
    table.write_text("# mine\nzui\tvui\tnote\n", encoding="utf-8")
    only = Normaliser(teencode_path=table)
    assert only.normalise("zui ko") == "vui ko"  # the table replaces the default one
    assert only.teencode == {"zui": "vui"}


@pytest.mark.parametrize(
    "content",
    ["ko không\n", "Ko\tkhông\n", "ko\t\n", "ko\tkhông\nko\tkhông nữa\n", "k o\tkhông\n"],
)
def test_malformed_teencode_table_says_where_and_how(tmp_path, content):
    table = tmp_path / "bad.tsv"
    table.write_text("# header\n" + content, encoding="utf-8")
    with pytest.raises(KiemtinError) as info:
        Normaliser(teencode_path=table)
    assert "bad.tsv" in str(info.value) and "expected" in str(info.value)


def test_bad_extra_teencode_is_refused():
    with pytest.raises(KiemtinError, match="lower-case"):
        Normaliser(extra_teencode={"KO": "không"})
    with pytest.raises(KiemtinError, match="non-empty expansion"):
        Normaliser(extra_teencode={"ko": " "})


@pytest.mark.parametrize("bad", [None, float("nan"), ["ko"], b"ko"])
def test_non_text_input_is_refused_with_a_fix(bad):
    with pytest.raises(KiemtinError, match="one str"):
        normalise(bad)
    with pytest.raises(KiemtinError, match="one str"):
        normalise_with_offsets(bad)


def test_name_and_version_are_recordable():
    assert NORMALISER_NAME == "kiemtin-normalise"
    assert NORMALISER_VERSION.isdigit()


def test_docstring_examples():
    failures, tried = doctest.testmod(normalise_module)
    assert tried >= 8 and failures == 0
