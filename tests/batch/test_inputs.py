"""Bad input: every row is either read or rejected with its line number and a reason."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.batch.inputs import Reject, Row, read_rows
from pipeline.errors import InputError


def _split(items):
    return ([i for i in items if isinstance(i, Row)], [i for i in items if isinstance(i, Reject)])


def test_jsonl_malformed_lines_bad_bytes_and_bad_fields_are_rejected_with_line_numbers(tmp_path):
    path = tmp_path / "posts.jsonl"
    path.write_bytes(
        b'{"id": "a", "text": "b\xc3\xa0i vi\xe1\xba\xbft t\xe1\xbb\x91t"}\n'
        b'{"id": "b", "text": "thi\xe1\xba\xbfu ngo\xe1\xba\xb7c"\n'  # malformed JSON
        b'{"id": "c", "text": "h\xe0i h\xe0i"}\n'  # latin-1 bytes
        b"\n"  # blank: not a row
        b'{"id": "d", "text": "   "}\n'  # whitespace only
        b'{"id": "e", "body": "sai tr\xc6\xb0\xe1\xbb\x9dng"}\n'  # no text field
        b'{"id": "f", "text": null}\n'
        b'["not", "an", "object"]\n'
        b'{"id": "g", "text": "cu\xe1\xbb\x91i c\xc3\xb9ng"}'  # no final newline
    )
    rows, rejects = _split(list(read_rows(path)))
    assert [(r.number, r.id, r.text) for r in rows] == [
        (1, "a", "bài viết tốt"),
        (9, "g", "cuối cùng"),
    ]
    reasons = {r.number: r.reason for r in rejects}
    assert sorted(reasons) == [2, 3, 5, 6, 7, 8]
    assert reasons[2].startswith("malformed JSON")
    assert "not valid UTF-8" in reasons[3]
    assert reasons[5] == "empty text"
    assert "no 'text' field" in reasons[6] and "--text-column" in reasons[6]
    assert "null" in reasons[7]
    assert "JSON object" in reasons[8]


def test_csv_with_embedded_newlines_and_quotes_keeps_each_record_whole(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text(
        "id,text,source\n"
        '1,"Dòng một\nDòng hai, có dấu phẩy","fb"\n'
        '2,"Anh ấy nói ""tin giả"" đấy",yt\n'
        "3,bình thường,fb\n",
        encoding="utf-8",
    )
    rows, rejects = _split(list(read_rows(path)))
    assert not rejects
    assert [(r.number, r.id) for r in rows] == [(2, "1"), (4, "2"), (5, "3")]
    assert rows[0].text == "Dòng một\nDòng hai, có dấu phẩy"
    assert rows[1].text == 'Anh ấy nói "tin giả" đấy'


def test_csv_rows_with_bad_bytes_or_wrong_field_counts_are_rejected_alone(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_bytes("id,text\n1,tốt\n".encode() + b"2,h\xe0i\n3,a,b,c\n" + "4,cuối\n".encode())
    rows, rejects = _split(list(read_rows(path)))
    assert [r.id for r in rows] == ["1", "4"]
    assert [(r.number, r.id) for r in rejects] == [(3, "2"), (4, "3")]
    assert "not valid UTF-8" in rejects[0].reason
    assert "4 fields but the header has 2" in rejects[1].reason


def test_a_one_megabyte_text_is_rejected_by_length_not_crashed_on(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"text": "a" * 1_000_000}) + "\n" + json.dumps({"text": "ok"}))
    rows, rejects = _split(list(read_rows(path)))
    assert [r.text for r in rows] == ["ok"]
    assert "1,000,000 characters" in rejects[0].reason and "--max-chars" in rejects[0].reason
    assert len(rejects[0].raw) <= 2000
    rows, rejects = _split(list(read_rows(path, max_chars=2_000_000)))
    assert len(rows) == 2 and not rejects


def test_parquet_rows_and_non_string_texts(tmp_path):
    path = tmp_path / "posts.parquet"
    pq.write_table(pa.table({"post_id": [10, 11, 12], "body": ["một", None, "  "]}), path)
    rows, rejects = _split(list(read_rows(path, text_column="body", id_column="post_id")))
    assert [(r.number, r.id, r.text) for r in rows] == [(1, 10, "một")]
    assert [(r.number, r.to_dict()["row"]) for r in rejects] == [(2, 2), (3, 3)]


def test_file_level_problems_raise_expected_found_fix(tmp_path):
    csv_path = tmp_path / "posts.csv"
    csv_path.write_text("id,message\n1,xin chào\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        list(read_rows(csv_path))
    message = str(err.value)
    assert "'text'" in message and "['id', 'message']" in message and "--text-column" in message

    with pytest.raises(InputError, match="--id-column"):
        list(read_rows(csv_path, text_column="message", id_column="post_id"))
    with pytest.raises(InputError, match=r"\.xlsx"):
        list(read_rows(tmp_path / "posts.xlsx"))
    with pytest.raises(InputError, match="no such file"):
        list(read_rows(tmp_path / "missing.csv"))
    fake = tmp_path / "fake.parquet"
    fake.write_text("not parquet")
    with pytest.raises(InputError, match="Parquet"):
        list(read_rows(fake))


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl"])
def test_an_empty_file_has_no_rows(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    assert list(read_rows(path)) == []
