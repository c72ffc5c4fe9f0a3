"""Real-world files: broken quotes, line ends, compression, encodings, delimiters and
repeated names. Each case was a silent merge, a crash or a useless error before."""

import codecs
import gzip
import json
import unicodedata

import pytest
import zstandard

from pipeline.batch.input_stats import ReadStats
from pipeline.batch.inputs import ReadOptions, Reject, Row, find_input_files, read_inputs
from pipeline.errors import InputError


def _read(path, **options):
    stats = ReadStats()
    items = list(read_inputs([path], ReadOptions(**options), stats))
    rows = [i for i in items if isinstance(i, Row)]
    rejects = [i for i in items if isinstance(i, Reject)]
    return rows, rejects, stats


def test_an_unterminated_quote_costs_its_own_line_not_the_rows_after_it(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('id,text\nu1,ok\nu2,"never closed\nu3,x\nu4,y\n')
    rows, rejects, stats = _read(path)
    assert [(r.id, r.text) for r in rows] == [("u1", "ok"), ("u3", "x"), ("u4", "y")]
    assert [(r.number, r.id) for r in rejects] == [(3, "u2")]
    assert "quote opened on line 3 is never closed" in rejects[0].reason
    assert stats.lines == 5


def test_a_stray_quote_that_closes_on_a_later_line_is_not_merged_text(tmp_path):
    path = tmp_path / "q.csv"
    # line 3's quote pairs with line 5's: a parser reading on would make one row of 3-5.
    path.write_text('id,text\nu1,ok\nu2,"bắt đầu\nu3,x\nu4,"y" z\nu5,cuối\n')
    rows, rejects, _ = _read(path)
    assert [r.id for r in rows] == ["u1", "u3", "u5"]
    assert all("\n" not in r.text for r in rows)
    assert [r.number for r in rejects] == [3, 5]


def test_quotes_that_pair_across_lines_with_the_wrong_field_count_are_split_again(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('id,text\nu1,"a\nu2,b",extra\nu3,c\n')
    rows, rejects, _ = _read(path)
    assert [r.id for r in rows] == ["u3"]
    assert [r.number for r in rejects] == [2, 3]
    assert "lines 2-3 has 3 fields" in rejects[0].reason


def test_a_quoted_field_over_the_line_limit_is_rejected_by_its_first_line(tmp_path):
    path = tmp_path / "q.csv"
    body = "\n".join(f"dòng {i}" for i in range(10))
    path.write_text(f'id,text\n1,"{body}"\n2,ok\n')
    rows, rejects, _ = _read(path)
    assert [r.text for r in rows] == [body, "ok"]  # a real multi-line post stays whole
    rows, rejects, _ = _read(path, max_record_lines=5)
    assert rejects[0].number == 2 and "more than 5 lines" in rejects[0].reason
    assert "--max-lines-per-row" in rejects[0].reason
    assert rows[-1].text == "ok"


@pytest.mark.parametrize("end", [b"\r", b"\r\n", b"\n"])
def test_jsonl_lines_may_end_in_cr_crlf_or_lf(tmp_path, end):
    path = tmp_path / "p.jsonl"
    lines = [json.dumps({"id": i, "text": f"bài {i}"}).encode() for i in range(3)]
    path.write_bytes(end.join(lines) + end)
    rows, rejects, stats = _read(path)
    assert [(r.number, r.id) for r in rows] == [(1, 0), (2, 1), (3, 2)] and not rejects
    assert stats.lines == 3


def test_a_crlf_split_across_read_blocks_is_one_line_end(tmp_path, monkeypatch):
    from pipeline.batch import jsonl_input

    monkeypatch.setattr(jsonl_input, "_BLOCK", 7)  # blocks end between \r and \n often
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"text":"a"}\r\n{"text":"bb"}\r\n\r\n{"text":"c"}\r')
    rows, _, stats = _read(path)
    assert [(r.number, r.text) for r in rows] == [(1, "a"), (2, "bb"), (4, "c")]
    assert stats.lines == 4


def test_compressed_inputs_are_read_as_streams(tmp_path):
    csv_text = "id,text\n1,Xin chào\n2,Tin giả\n".encode()
    jsonl = b'{"id": 1, "text": "Xin ch\xc3\xa0o"}\n{"id": 2, "text": "x"}\n'
    files = {
        "a.csv.gz": gzip.compress(csv_text),
        "b.jsonl.gz": gzip.compress(jsonl),
        "c.csv.zst": zstandard.ZstdCompressor().compress(csv_text),
        "d.jsonl.zst": zstandard.ZstdCompressor().compress(jsonl),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        rows, _, stats = _read(tmp_path / name)
        assert [r.text for r in rows][:1] == ["Xin chào"] and len(rows) == 2, name
        assert stats.bytes_read == len(data) == stats.bytes_total


def test_a_truncated_archive_is_a_clear_error(tmp_path):
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "x"}\n' * 1000)[:-20])
    with pytest.raises(InputError, match="complete gzip archive"):
        _read(path)


def test_utf16_with_a_byte_order_mark_is_detected(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("id,text\n1,Tin giả\n", encoding="utf-16")
    assert [r.text for r in _read(path)[0]] == ["Tin giả"]
    path = tmp_path / "u.jsonl"
    path.write_text('{"text": "Tin giả"}\r\n', encoding="utf-16")
    assert [r.text for r in _read(path)[0]] == ["Tin giả"]


def test_utf16_without_a_byte_order_mark_names_the_fix(tmp_path):
    path = tmp_path / "u.jsonl"
    path.write_bytes('{"text": "Tin giả"}\n'.encode("utf-16-le"))
    with pytest.raises(InputError, match="--encoding utf-16-le"):
        _read(path)


def test_cp1258_and_latin1_on_request(tmp_path):
    path = tmp_path / "w.csv"
    # Windows Vietnamese (cp1258) writes tone marks as combining characters.
    path.write_bytes(unicodedata.normalize("NFD", "id,text\n1,Tin giả\n").encode("cp1258"))
    rows, rejects, _ = _read(path)
    assert not rows and "--encoding" in rejects[0].reason  # read as UTF-8: the fix is named
    rows, rejects, _ = _read(path, encoding="cp1258")
    assert unicodedata.normalize("NFC", rows[0].text) == "Tin giả" and not rejects
    path.write_bytes("id,text\n1,café\n".encode("latin-1"))
    assert [r.text for r in _read(path, encoding="latin-1")[0]] == ["café"]


def test_a_utf8_bom_is_not_part_of_the_first_column(tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"id,text\n1,ok\n")
    assert [(r.id, r.text) for r in _read(path)[0]] == [("1", "ok")]


def test_the_delimiter_is_sniffed_or_given_and_a_wrong_one_names_the_fix(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("id;text\n1;Tin giả, thật đấy\n")
    assert [r.text for r in _read(path)[0]] == ["Tin giả, thật đấy"]
    with pytest.raises(InputError, match="pass --delimiter ';'"):
        _read(path, delimiter=",")
    tab = tmp_path / "t.csv"
    tab.write_text("id\ttext\n1\tok\n")
    assert [r.text for r in _read(tab)[0]] == ["ok"]


def test_repeated_header_names_and_ids_are_warned_about_once_with_counts(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,text,text\n1,a,x\n1,b,y\n2,c,z\n1,d,w\n")
    rows, _, stats = _read(path)
    assert [r.text for r in rows] == ["a", "b", "c", "d"]  # the first 'text' column
    warnings = stats.all_warnings()
    assert len(warnings) == 2
    assert "repeats 'text' (2 times)" in warnings[0]
    assert warnings[1].startswith("1 id appears more than once (2 rows repeat an earlier id)")


def test_line_numbers_as_ids_are_never_counted_as_repeats(tmp_path):
    path = tmp_path / "n.jsonl"
    path.write_text('{"text": "a"}\n{"text": "a"}\n')
    assert _read(path)[2].all_warnings() == []


def test_files_a_directory_holds_besides_inputs_are_returned_as_skipped(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(b'{"text": "y"}\n'))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "old.gz").write_bytes(gzip.compress(b"x"))
    (tmp_path / ".hidden.jsonl").write_text("{}")
    files, skipped = find_input_files([tmp_path])
    assert [f.name for f in files] == ["a.jsonl", "b.jsonl.gz"]
    assert sorted(f.name for f in skipped) == [".hidden.jsonl", "notes.txt", "old.gz"]
