"""Tests for pipeline.training.corpora: reference corpora as delivered, fixtures, cards, samples."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.errors import CorpusError, InputError
from pipeline.tasks import load_task
from pipeline.training.corpora import (
    FALSE_LABELS,
    HOSTILE_LABELS,
    VIHOS_LABELS,
    Corpus,
    load_corpus,
)
from tests.conftest import CORPORA, DATA, REPO, require_corpora

ROOT = REPO
SHARED = CORPORA
CORPUS_DATA = DATA / "corpora"
CARDS = ROOT / "corpora"
SAMPLES = ROOT / "corpora" / "samples" / "posts.jsonl"

needs_shared = pytest.mark.usefixtures("reference_corpora")


def _left_out(corpus: Corpus) -> int:
    return sum(n for what, n in corpus.problems.items() if what.startswith("rows left out"))


def _csv_rows(path: Path) -> int:
    with open(path, encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


# ---------------------------------------------------------------- reference corpora


@pytest.fixture(scope="module")
def vihsd() -> Corpus:
    return load_corpus(require_corpora() / "vihsd")


@pytest.fixture(scope="module")
def reintel() -> Corpus:
    return load_corpus(require_corpora() / "reintel")


@pytest.fixture(scope="module")
def vihos() -> Corpus:
    return load_corpus(require_corpora() / "vihos")


def test_label_names_agree_with_the_task_files():
    assert load_task("hostile").labels == HOSTILE_LABELS
    assert load_task("false").labels == FALSE_LABELS


@needs_shared
def test_vihsd_has_its_published_split_sizes_and_label_shares(vihsd):
    assert vihsd.name == "vihsd"
    assert vihsd.task == "hostile"
    assert vihsd.labels == HOSTILE_LABELS
    sizes = {split: len(ds) for split, ds in vihsd.splits.items()}
    assert sizes == {"train": 24_048, "dev": 2_672, "test": 6_680}
    for ds in vihsd.splits.values():
        share = {k: n / len(ds) for k, n in Counter(ds["label"]).items()}
        assert set(share) == set(HOSTILE_LABELS)
        assert 0.80 < share["clean"] < 0.86
        assert 0.05 < share["offensive"] < 0.09
        assert 0.08 < share["hate"] < 0.12


@needs_shared
def test_vihsd_keeps_and_reports_its_two_empty_rows(vihsd):
    train = vihsd.splits["train"]
    assert sum(1 for t in train["text"] if not t.strip()) == 2
    assert vihsd.problems == {"empty text": 2}
    assert train[10950]["id"] == "vihsd:train:10950"
    assert train[10950]["text"] == ""


@needs_shared
def test_vihsd_ids_are_unique_and_stable(vihsd):
    ids = [i for ds in vihsd.splits.values() for i in ds["id"]]
    assert len(ids) == len(set(ids))
    again = load_corpus(SHARED / "vihsd")
    assert again.splits["test"]["id"][:50] == vihsd.splits["test"]["id"][:50]


@needs_shared
def test_vihsd_loads_in_a_few_seconds():
    start = time.perf_counter()
    load_corpus(SHARED / "vihsd")
    assert time.perf_counter() - start < 5


@needs_shared
def test_reintel_sizes_and_share_of_unreliable(reintel):
    assert reintel.task == "false"
    assert reintel.labels == FALSE_LABELS
    assert {s: len(ds) for s, ds in reintel.splits.items()} == {"train": 3_497, "test": 875}
    for ds in reintel.splits.values():
        share = Counter(ds["label"])["unreliable"] / len(ds)
        assert 0.15 < share < 0.19
    assert set(reintel.splits["train"].column_names) >= {
        "id",
        "text",
        "label",
        "timestamp",
        "num_like",
        "num_comment",
        "num_share",
    }


@needs_shared
def test_reintel_loses_no_row(reintel):
    rows_in = sum(_csv_rows(SHARED / "reintel" / f"{s}.csv") for s in ("train", "test"))
    rows_out = sum(len(ds) for ds in reintel.splits.values())
    assert rows_in == rows_out + _left_out(reintel)
    ids = [i for ds in reintel.splits.values() for i in ds["id"]]
    assert len(ids) == len(set(ids))


@needs_shared
def test_reintel_reports_its_messy_metadata(reintel):
    p = reintel.problems
    for key in (
        "num_like_post 'unknown'",
        "num_share_post empty",
        "timestamp_post empty",
        "num_comment_post had a unit word, number kept",
        "text is only <URL>",
    ):
        assert p.get(key, 0) > 0, key
    assert p["shifted columns repaired (post text in metadata columns)"] == 8
    assert p["timestamp_post moved from a date in num_share_post"] == 2
    assert not any("not a number" in key for key in p), p


@needs_shared
def test_reintel_metadata_is_parsed_into_nullable_ints(reintel):
    train = reintel.splits["train"]
    assert train.features["num_like"].dtype == "int64"
    (row,) = train.filter(lambda r: r["id"] == "1834")
    assert row["num_like"] == 54  # delivered as '54 like'
    timestamps = [t for t in train["timestamp"] if t is not None]
    assert min(timestamps) > 1_000_000_000


@needs_shared
def test_reintel_rows_with_text_in_metadata_are_rejoined(reintel):
    train = reintel.splits["train"]
    (row,) = train.filter(lambda r: r["id"] == "82")
    assert "Manchester, Ronaldo lập cột mốc khó tin, Solskjaer" in row["text"]
    assert row["timestamp"] == 1_583_713_929
    assert row["num_like"] is None  # cut off in the delivered file
    (row,) = train.filter(lambda r: r["id"] == "592")
    assert (row["timestamp"], row["num_like"], row["num_comment"]) == (1_587_881_185, 24, 1)
    (row,) = train.filter(lambda r: r["id"] == "2843")
    assert row["timestamp"] == 1_591_877_025  # 'June 11th 2020, 19:03:45.000' at UTC+7


@needs_shared
def test_vihos_sizes_and_spans_inside_their_texts(vihos):
    assert vihos.labels == VIHOS_LABELS
    assert {s: len(ds) for s, ds in vihos.splits.items()} == {
        "train": 8_844,
        "dev": 1_106,
        "test": 1_106,
    }
    for ds in vihos.splits.values():
        for text, spans, label in zip(ds["text"], ds["spans"], ds["label"], strict=True):
            assert label == ("hostile" if spans else "clean")
            ends = [0]
            for start, end in spans:
                assert ends[-1] <= start < end <= len(text)
                ends.append(end)


@needs_shared
def test_vihos_spans_point_at_the_insults(vihos):
    train = vihos.splits["train"]
    row = train[1]
    assert row["text"] == "Bấp bênh vl thế"
    assert [row["text"][a:b] for a, b in row["spans"]] == ["vl"]
    row = train[5]
    marked = [row["text"][a:b] for a, b in row["spans"]]
    assert "đcm" in marked and "đéo" in marked
    # Most spans are whole words: a span edge inside a word is rare and reported.
    n_spans = sum(len(s) for ds in vihos.splits.values() for s in ds["spans"])
    inside = vihos.problems["span starts or ends inside a word (kept as marked)"]
    assert 0 < inside < 0.01 * n_spans


@needs_shared
def test_summary_has_a_line_per_split_and_the_problems(reintel):
    text = reintel.summary()
    assert "train: 3,497 rows" in text and "test: 875 rows" in text
    assert "unreliable 587" in text
    assert "timestamp_post empty: 94" in text


# ---------------------------------------------------------------- tiny fixtures


def test_generic_csv_keeps_newlines_quotes_and_na_words():
    c = load_corpus(CORPUS_DATA / "generic.csv", text_column="body", id_column="post_id")
    assert c.name == "generic" and c.task is None and c.labels is None
    (train,) = c.splits.values()
    rows = {r["id"]: r for r in train}
    assert rows["a1"]["text"] == "Dòng một\ndòng hai, có dấu phẩy"
    assert rows["a2"]["text"] == 'Anh ấy nói "thôi đi" rồi bỏ về'
    assert rows["a3"]["text"] == "null" and rows["a4"]["text"] == "NA"
    assert rows["a4"]["label"] is None
    assert rows["a1"]["source"] == "forum"  # extra columns are kept
    assert c.problems == {"empty text": 1, "label empty (row kept unlabelled)": 1}


def test_generic_jsonl_counts_lines_it_leaves_out():
    c = load_corpus(CORPUS_DATA / "generic.jsonl")
    train = c.splits["train"]
    assert train["id"] == ["j1", "j2", "j3", "generic:train:3"]
    assert train["label"] == ["0", "1", "1", "1"]  # kept as text without a task
    assert train["text"][2] == ""
    assert c.problems["rows left out: line is not valid JSON"] == 1
    assert c.problems["rows left out: line is not a JSON object"] == 1
    assert c.problems["empty text"] == 1


def test_parquet_with_a_task(tmp_path):
    table = pa.table(
        {
            "id": ["p1", "p2", "p3", "p4"],
            "text": ["Chào buổi sáng", "đồ ngu", "Cút về quê", None],
            "label": [0.0, 1.0, 2.0, None],  # floats, as pandas writes a column with gaps
            "score": [1, 2, 3, 4],
        }
    )
    pq.write_table(table, tmp_path / "posts.parquet")
    c = load_corpus(tmp_path / "posts.parquet", task="hostile")
    train = c.splits["train"]
    assert c.task == "hostile" and c.labels == HOSTILE_LABELS
    assert train["label"] == ["clean", "offensive", "hate", None]
    assert train["text"][3] == ""
    assert train["score"] == [1, 2, 3, 4]


def test_numeric_and_named_labels_map_to_task_names():
    c = load_corpus(CORPUS_DATA / "hostile_numeric.csv", task="hostile")
    assert c.splits["train"]["label"] == [
        "clean",
        "offensive",
        "hate",
        "clean",
        "offensive",
        "hate",
        "hate",
    ]
    assert c.splits["train"]["id"][0] == "hostile_numeric:train:0"


def test_unknown_label_names_expected_and_found():
    with pytest.raises(CorpusError) as err:
        load_corpus(CORPUS_DATA / "unknown_label.csv", task="hostile")
    message = str(err.value)
    assert "'clean', 'offensive', 'hate'" in message
    assert "'spam' (2 rows)" in message and "'fake'" in message


def test_missing_text_column_names_the_columns_found():
    with pytest.raises(CorpusError) as err:
        load_corpus(CORPUS_DATA / "no_text.csv")
    assert "['content', 'label']" in str(err.value)
    assert "text_column" in str(err.value)
    c = load_corpus(CORPUS_DATA / "no_text.csv", text_column="content")
    assert c.splits["train"]["text"] == ["Xin chào"]


def test_a_directory_of_split_files_in_mixed_formats():
    c = load_corpus(CORPUS_DATA / "splits")
    assert list(c.splits) == ["train", "dev", "test"]
    assert c.splits["dev"]["text"] == ["Câu ba"]
    assert c.splits["dev"]["id"] == ["splits:dev:0"]


def test_a_directory_with_an_unnamed_data_file_is_refused(tmp_path):
    (tmp_path / "train.csv").write_text("text\nmột\n", encoding="utf-8")
    (tmp_path / "extra.csv").write_text("text\nhai\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"extra\.csv"):
        load_corpus(tmp_path)


def test_a_missing_path_and_a_wrong_suffix_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_corpus(tmp_path / "nope.csv")
    (tmp_path / "posts.xlsx").write_bytes(b"")
    with pytest.raises(InputError, match=r"\.xlsx"):
        load_corpus(tmp_path / "posts.xlsx")


def test_reintel_shaped_rows_are_repaired_and_counted():
    c = load_corpus(CORPUS_DATA / "reintel_like")
    assert c.name == "reintel"
    rows = {r["id"]: r for r in c.splits["train"]}
    assert "108" not in rows  # label 'maybe'
    assert c.problems["rows left out: label not 0 or 1"] == 1
    assert len(rows) + _left_out(c) == _csv_rows(CORPUS_DATA / "reintel_like" / "train.csv")
    assert rows["101"]["text"].startswith("Bản tin sáng\n\n")
    assert (rows["101"]["num_share"], rows["101"]["timestamp"]) == (19, 1_591_405_213)
    assert (rows["102"]["num_like"], rows["102"]["num_comment"], rows["102"]["num_share"]) == (
        54,
        1,
        3,
    )
    assert rows["103"]["text"].endswith(
        "miền Trung, Giao thông ùn tắc ở cửa ngõ thủ đô... là những tin nổi bật."
    )
    assert (rows["103"]["timestamp"], rows["103"]["num_like"], rows["103"]["num_comment"]) == (
        1_592_283_607,
        4,
        0,
    )
    assert rows["103"]["num_share"] is None
    assert rows["104"]["num_like"] is None
    assert rows["105"]["timestamp"] is None and rows["105"]["num_like"] == 4700
    assert rows["106"]["timestamp"] == 1_590_418_678 and rows["106"]["num_share"] is None
    assert rows["109"]["text"] == "Chuỗi tin: phần một, phần hai, phần ba, phần bốn, phần năm"
    assert c.problems["shifted columns: post text rejoined, metadata not recoverable"] == 1
    assert c.problems["num_like_post 'unknown'"] == 1


def test_vihos_shaped_rows_merge_offsets_into_spans():
    c = load_corpus(CORPUS_DATA / "vihos_like")
    rows = {r["id"]: r for r in c.splits["train"]}
    assert rows["vihos:train:0"]["spans"] == [[7, 14]]
    text = rows["vihos:train:2"]["text"]
    assert [text[a:b] for a, b in rows["vihos:train:2"]["spans"]] == ["đồ", "ngu như bò"]
    assert rows["vihos:train:1"]["label"] == "clean"
    assert rows["vihos:train:4"]["spans"] == [[4, 8]]  # offset 40 is past the text
    assert c.problems["span offsets outside the text (dropped)"] == 1
    assert c.problems["rows left out: index_spans not a list of offsets"] == 1


def test_column_options_are_refused_for_a_reference_corpus():
    with pytest.raises(InputError, match="text_column"):
        load_corpus(CORPUS_DATA / "reintel_like", text_column="post_message")
    with pytest.raises(InputError, match="'false'"):
        load_corpus(CORPUS_DATA / "reintel_like", task="hostile")


# ---------------------------------------------------------------- cards and samples


def _sha256sums() -> dict[str, str]:
    sums = {}
    for line in (SHARED / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        sums[name] = digest
    return sums


@needs_shared
@pytest.mark.parametrize("corpus", ["vihsd", "reintel", "vihos"])
def test_card_checksums_match_the_shared_sha256sums(corpus):
    card = (CARDS / f"{corpus}.md").read_text(encoding="utf-8")
    in_card = {
        f"{corpus}/{name}": digest
        for name, digest in re.findall(r"`(\w+\.csv)`.*?`([0-9a-f]{64})`", card)
    }
    expected = {k: v for k, v in _sha256sums().items() if k.startswith(f"{corpus}/")}
    assert in_card == expected


@needs_shared
def test_shared_files_match_their_checksums():
    for name, digest in _sha256sums().items():
        assert hashlib.sha256((SHARED / name).read_bytes()).hexdigest() == digest, name


KINDS = {
    "news",
    "daily_life",
    "insult",
    "regional_hate",
    "health_hoax",
    "panic_rumour",
    "counter_speech",
    "teencode",
    "no_diacritics",
}


def test_sample_posts_parse_and_cover_every_kind():
    lines = SAMPLES.read_text(encoding="utf-8").splitlines()
    posts = [json.loads(line) for line in lines]
    assert len(posts) >= 45
    assert all(set(p) == {"id", "text", "kind"} for p in posts)
    assert len({p["id"] for p in posts}) == len(posts)
    kinds = Counter(p["kind"] for p in posts)
    assert set(kinds) == KINDS
    assert min(kinds.values()) >= 3
    assert all(0 < len(p["text"]) <= 400 for p in posts)


def test_sample_posts_load_as_an_unlabelled_corpus():
    c = load_corpus(SAMPLES)
    train = c.splits["train"]
    assert train["id"][0] == "s01"
    assert set(train["label"]) == {None}
    assert set(train["kind"]) == KINDS
    assert c.problems == {}
