"""Seeded fuzzing of the readers: random CSV, JSONL and Parquet files with broken quotes,
bad bytes, mixed line ends, encodings, compression, nulls and wrong types. For every file,
rows in = rows read + rows rejected, and every row read has exactly the text written.

A seeded generator rather than hypothesis: each failing seed is a file to look at, the same
on every machine. One rule keeps the count well defined: a broken row is followed by a
clean one. Two adjacent quote errors can pair into one valid multi-line quoted field, which
no reader can tell from a real post written over several lines.
"""

from __future__ import annotations

import codecs
import gzip
import json
import random
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from pipeline.batch.inputs import ReadOptions, Reject, Row, read_inputs
from pipeline.cli import main

SNIPPETS = [
    "Tin giả về giá xăng tăng mạnh",
    "Mày ngu vl",
    "Chúc mừng năm mới, an khang thịnh vượng",
    "Bộ Y tế: uống nước chanh không chữa được bệnh",
    "đồ khùng!!! 😡",
    "ko bik đâu nha, tin đồn thui",
    "Người dân đổ xô đi mua muối",
    "Đường Nguyễn Huệ ngập sâu; xe chết máy",
]
LINE_ENDS = ["\n", "\r\n", "\r"]
TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def _text(rng: random.Random) -> str:
    text = rng.choice(SNIPPETS)
    if rng.random() < 0.3:
        text += ', "trích dẫn" nữa'
    if rng.random() < 0.2:
        text += rng.choice(["\nDòng hai", "\r\nDòng hai", "\n\nĐoạn mới"])
    return text


def _cp1258(text: str) -> bytes:
    """Windows Vietnamese: letters precomposed where cp1258 has them, tones combining."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        try:
            out.append(char.encode("cp1258"))
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
            tones = "".join(c for c in parts if c in TONES)
            out.append((base + tones).encode("cp1258", "replace"))
    return b"".join(out)


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "cp1258":
        return _cp1258(text)
    return text.encode("utf-8" if encoding == "utf-8-sig" else encoding)


def _compress(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    kind = rng.choice(["", ".gz", ".zst"])
    if kind == ".gz":
        return gzip.compress(data), kind
    if kind == ".zst":
        return zstandard.ZstdCompressor().compress(data), kind
    return data, kind


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def fuzz_csv(rng: random.Random, path: Path) -> tuple[Path, dict, int, ReadOptions]:
    """A CSV file; returns (path, {id: text} of the good rows, rows written, options)."""
    encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "utf-16", "cp1258"])
    end = rng.choice(LINE_ENDS)
    delimiter = rng.choice([",", ",", ";", "\t"])
    pieces: list[bytes] = [_encode(f"id{delimiter}text{end}", encoding)]
    good: dict[str, str] = {}
    n = rng.randint(1, 60)
    broken_before = False
    for k in range(n):
        rid = f"r{k}"
        text = _text(rng)
        breakage = (
            None
            if broken_before
            else rng.choice([None] * 5 + ["open", "stray", "extra", "bytes", "empty"])
        )
        if breakage == "bytes" and encoding == "utf-16":
            breakage = None  # a UTF-16 file has no invalid single bytes to plant
        line_end = rng.choice(LINE_ENDS) if rng.random() < 0.2 else end
        if breakage is None:
            field = (
                _quoted(text)
                if rng.random() < 0.7 or any(c in text for c in f'"\r\n{delimiter}')
                else text
            )
            pieces.append(_encode(f"{rid}{delimiter}{field}{line_end}", encoding))
            good[rid] = _encode(text, encoding).decode(encoding)  # cp1258 has no emoji
        elif breakage == "open":
            pieces.append(_encode(f'{rid}{delimiter}"{text.splitlines()[0]}{line_end}', encoding))
        elif breakage == "stray":
            pieces.append(_encode(f'{rid}{delimiter}"{rng.choice(SNIPPETS)}"x{line_end}', encoding))
        elif breakage == "extra":
            pieces.append(_encode(f"{rid}{delimiter}a{delimiter}b{line_end}", encoding))
        elif breakage == "bytes":
            bad = b"\xff\xfe\x81" if encoding == "cp1258" else b"\xff\xc3("
            pieces.append(
                _encode(f"{rid}{delimiter}", encoding) + bad + _encode(line_end, encoding)
            )
        elif breakage == "empty":
            pieces.append(_encode(f"{rid}{delimiter}{line_end}", encoding))
        broken_before = breakage is not None
    data = b"".join(pieces)
    if encoding == "utf-8-sig":
        data = codecs.BOM_UTF8 + data
    elif encoding == "utf-16":  # the codec wrote a BOM before every piece: write it once
        data = codecs.BOM_UTF16_LE + b"".join(p.replace(codecs.BOM_UTF16_LE, b"") for p in pieces)
    data, kind = _compress(data, rng)
    path = path.with_name(path.name + ".csv" + kind)
    path.write_bytes(data)
    options = ReadOptions(
        encoding="cp1258" if encoding == "cp1258" else None,
        delimiter=delimiter if rng.random() < 0.5 else None,
    )
    return path, good, n, options


def fuzz_jsonl(rng: random.Random, path: Path) -> tuple[Path, dict, int, ReadOptions]:
    encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "utf-16"])
    lines: list[bytes] = []
    good: dict = {}
    n = 0
    for k in range(rng.randint(1, 60)):
        end = rng.choice(LINE_ENDS).encode()
        if rng.random() < 0.1:
            lines.append(end)  # a blank line is not a row
        n += 1
        rid = rng.choice([f"j{k}", k, 2**70 + k])
        text = _text(rng)
        kind = rng.choice(
            ["good"] * 6
            + ["truncated", "null", "number", "list", "missing", "array", "bytes", "nan"]
        )
        if kind == "bytes" and encoding == "utf-16":
            kind = "good"
        record = {"id": rid, "text": text}
        if kind == "good":
            body = json.dumps(record, ensure_ascii=rng.random() < 0.5).encode()
            good[rid] = text
        elif kind == "nan":
            body = json.dumps({**record, "score": float("nan")}, ensure_ascii=False).encode()
            good[rid] = text
        elif kind == "truncated":
            body = json.dumps(record, ensure_ascii=False).encode()[: rng.randint(1, 12)]
        elif kind in ("null", "number", "list"):
            value = {"null": None, "number": 42, "list": [text]}[kind]
            body = json.dumps({"id": rid, "text": value}).encode()
        elif kind == "missing":
            body = json.dumps({"id": rid, "body": text}, ensure_ascii=False).encode()
        elif kind == "array":
            body = json.dumps([rid, text], ensure_ascii=False).encode()
        else:
            body = b'{"id": "' + str(k).encode() + b'", "text": "h\xe0i"}'
        lines.append(body + end)
    text_bytes = b"".join(lines)
    if encoding == "utf-16":
        data = text_bytes.decode("utf-8").encode("utf-16")
    elif encoding == "utf-8-sig":
        data = codecs.BOM_UTF8 + text_bytes
    else:
        data = text_bytes
    data, kind = _compress(data, rng)
    path = path.with_name(path.name + ".jsonl" + kind)
    path.write_bytes(data)
    return path, good, n, ReadOptions()


def fuzz_parquet(rng: random.Random, path: Path) -> tuple[Path, dict, int, ReadOptions]:
    n = rng.randint(1, 60)
    texts, good = [], {}
    kind = rng.choice(["strings", "strings", "ints", "nulls"])
    ids = [rng.choice([f"q{k}", None]) if rng.random() < 0.2 else f"q{k}" for k in range(n)]
    for k in range(n):
        if kind == "ints":
            texts.append(k)
        elif kind == "nulls" or rng.random() < 0.15:
            texts.append(rng.choice([None, "", "   "]))
        else:
            texts.append(_text(rng))
            good[k + 1] = texts[-1]  # by row number: a null id is kept as null
    path = path.with_name(path.name + ".parquet")
    table = pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts)})
    pq.write_table(table, path, row_group_size=rng.randint(1, 64))
    return path, good, n, ReadOptions()


GENERATORS = {"csv": fuzz_csv, "jsonl": fuzz_jsonl, "parquet": fuzz_parquet}


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@pytest.mark.parametrize("fmt", sorted(GENERATORS))
def test_every_row_of_a_random_broken_file_is_read_or_rejected(tmp_path, fmt):
    for seed in range(150):
        rng = random.Random(f"{fmt}-{seed}")
        path, good, written, options = GENERATORS[fmt](rng, tmp_path / f"f{seed}")
        items = list(read_inputs([path], options))
        rows = [i for i in items if isinstance(i, Row)]
        rejects = [i for i in items if isinstance(i, Reject)]
        where = f"seed {seed}: {path.name}"
        assert len(rows) + len(rejects) == written, where
        key = (lambda r: r.number) if fmt == "parquet" else (lambda r: r.id)
        for row in rows:
            assert key(row) in good, (where, row)
            assert _nfc(row.text) == _nfc(good[key(row)]), (where, row)
        assert {key(r) for r in rows} == set(good), where
        assert all(r.reason and r.number >= 1 for r in rejects), where


def test_random_broken_files_through_classify_lose_no_row(tiny_models_root, tmp_path, capsys):
    for fmt, generate in GENERATORS.items():
        rng = random.Random(f"classify-{fmt}")
        path, good, written, options = generate(rng, tmp_path / f"in-{fmt}")
        out = tmp_path / f"out-{fmt}.jsonl"
        extra = ["--encoding", options.encoding] if options.encoding else []
        args = ["--task", "hostile", "--models-root", str(tiny_models_root), "--workers", "1"]
        assert main(["classify", str(path), "-o", str(out), *args, *extra]) == 0
        scored = out.read_text().splitlines()
        rejects_file = out.with_suffix(".rejects.jsonl")
        rejected = rejects_file.read_text().splitlines() if rejects_file.exists() else []
        assert len(scored) + len(rejected) == written, fmt
        assert len(scored) == len(good), fmt
        err = capsys.readouterr().err
        assert f"scored {len(scored):,} rows, rejected {len(rejected):,}" in err
