"""Batch classification at scale: streaming chunks through worker processes, resuming a
killed run, and the Dask engine giving the local engine's output row for row."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from tests.conftest import REPO, require_corpora


def _vihsd_texts(limit: int, offset: int = 0) -> list[str]:
    with open(require_corpora() / "vihsd" / "train.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))[offset : offset + limit]
    return [r["free_text"] for r in rows]


def _posts_file(path: Path, n: int) -> Path:
    """``n`` real ViHSD comments as JSONL, with a malformed line and an empty text among them
    (so the rejects file is part of what must come out exactly once)."""
    lines = [
        json.dumps({"id": f"p{i}", "text": t}, ensure_ascii=False)
        for i, t in enumerate(_vihsd_texts(n))
    ]
    lines[n // 3] = '{"id": "broken", "text": '
    lines[2 * n // 3] = json.dumps({"id": "blank", "text": "   "})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _classify_command(src, out, models_root, *extra):
    return [
        sys.executable,
        str(REPO / "classify.py"),
        str(src),
        "-o",
        str(out),
        "--task",
        "hostile",
        "--models-root",
        str(models_root),
        *map(str, extra),
    ]


def _run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, result.stderr
    return result


def _kill_mid_run(command, checkpoint: Path, at_least: int) -> None:
    """Start ``command`` and SIGKILL it (workers too) once its checkpoint is past
    ``at_least`` input rows."""
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it could be killed"
            try:
                done = json.loads(checkpoint.read_text())["items"]
            except (FileNotFoundError, json.JSONDecodeError):
                done = 0
            if done >= at_least:
                break
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint came within 300 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_killed_run_resumes_with_every_row_exactly_once_in_order(
    tiny_models_root, tmp_path, suffix
):
    src = _posts_file(tmp_path / "posts.jsonl", 6000)
    expected = tmp_path / f"expected{suffix}"
    _run(_classify_command(src, expected, tiny_models_root, "--workers", "2"))

    out = tmp_path / f"scores{suffix}"
    command = _classify_command(src, out, tiny_models_root, "--workers", "2", "--batch-size", 250)
    checkpoint = out.with_name(out.name + ".resume.json")
    _kill_mid_run(command, checkpoint, at_least=1500)
    assert not out.exists(), "a killed run must not leave output under the final name"
    assert out.with_name(out.name + ".partial").exists() and checkpoint.exists()

    result = _run([*command, "--resume"])
    assert "resuming after" in result.stderr
    assert not checkpoint.exists() and not out.with_name(out.name + ".partial").exists()
    if suffix == ".jsonl":
        assert out.read_bytes() == expected.read_bytes()
        ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    else:
        assert pq.read_table(out).equals(pq.read_table(expected))
        ids = pq.read_table(out).column("id").to_pylist()
    assert ids == [f"p{i}" for i in range(6000) if i not in (2000, 4000)]
    rejects = [json.loads(x) for x in out.with_suffix(".rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["id"]) for r in rejects] == [(2001, None), (4001, "blank")]
    assert "rejected 2" in result.stderr


def test_resume_cuts_away_output_written_after_the_last_checkpoint(tiny_models_root, tmp_path):
    """A kill between writing a chunk and saving its checkpoint leaves extra bytes."""
    src = _posts_file(tmp_path / "posts.jsonl", 900)
    full = tmp_path / "full.jsonl"
    args = ["--task", "hostile", "--models-root", tiny_models_root, "--workers", "1"]
    assert main(["classify", str(src), "-o", str(full), *map(str, args)]) == 0

    out = tmp_path / "scores.jsonl"
    partial = tmp_path / "scores.jsonl.partial"
    checkpoint = tmp_path / "scores.jsonl.resume.json"
    lines = full.read_bytes().splitlines(keepends=True)
    done = b"".join(lines[:300])  # input lines 1-300 are all scored rows
    partial.write_bytes(done + lines[300][:40])  # and half of the next chunk's first row
    from pipeline.batch.checkpoint import Checkpoint
    from pipeline.batch.run import ClassifyRun, classifier_for
    from pipeline.model.directory import current_model_dir

    run = ClassifyRun(
        [str(src)],
        str(out),
        tmp_path / "scores.rejects.jsonl",
        [current_model_dir(tiny_models_root, "hostile")],
    )
    fingerprint = run.fingerprint(classifier_for(run.job()))
    Checkpoint(fingerprint, 300, len(done), 0, 300, 0).save(checkpoint)

    assert main(["classify", str(src), "-o", str(out), *map(str, args), "--resume"]) == 0
    assert out.read_bytes() == full.read_bytes()


def test_resume_refuses_other_options_than_the_interrupted_run(tiny_models_root, tmp_path, capsys):
    src = _posts_file(tmp_path / "posts.jsonl", 300)
    out = tmp_path / "scores.jsonl"
    from pipeline.batch.checkpoint import Checkpoint
    from pipeline.batch.run import ClassifyRun, classifier_for
    from pipeline.model.directory import current_model_dir

    run = ClassifyRun(
        [str(src)],
        str(out),
        tmp_path / "r.jsonl",
        [current_model_dir(tiny_models_root, "hostile")],
        top_words=5,
    )
    Checkpoint(run.fingerprint(classifier_for(run.job())), 100, 0, 0, 0, 0).save(
        Checkpoint.path_for(out)
    )
    (tmp_path / "scores.jsonl.partial").write_bytes(b"")
    args = ["--task", "hostile", "--models-root", str(tiny_models_root), "--workers", "1"]
    code = main(["classify", str(src), "-o", str(out), *args, "--top-words", "3", "--resume"])
    err = capsys.readouterr().err
    assert code == 2
    assert "other options or models than the interrupted run (top_words)" in err
    assert "drop --resume to start over" in err
    code = main(["classify", str(src), "-o", str(out), *args, "--encoding", "cp1258", "--resume"])
    assert code == 2 and "(encoding)" in capsys.readouterr().err

    src.write_text(src.read_text() + '{"id": "late", "text": "thêm một dòng"}\n')
    code = main(["classify", str(src), "-o", str(out), *args, "--resume"])
    assert code == 2 and "input files that changed" in capsys.readouterr().err

    code = main(["classify", "-", *args, "--resume"])
    assert code == 2 and "-o OUTPUT" in capsys.readouterr().err


def test_without_resume_an_unfinished_run_is_started_over(tiny_models_root, tmp_path, capsys):
    src = _posts_file(tmp_path / "posts.jsonl", 300)
    out = tmp_path / "scores.jsonl"
    (tmp_path / "scores.jsonl.partial").write_bytes(b"left over\n")
    Path(str(out) + ".resume.json").write_text("{}")
    args = ["--task", "hostile", "--models-root", str(tiny_models_root), "--workers", "1"]
    assert main(["classify", str(src), "-o", str(out), *args]) == 0
    assert "started over" in capsys.readouterr().err
    assert len(out.read_text().splitlines()) == 298
    assert not Path(str(out) + ".resume.json").exists()


def _mixed_input_dir(tmp_path: Path) -> Path:
    """The same kind of posts as one CSV, one JSONL and one Parquet file in a directory."""
    texts = _vihsd_texts(1500, offset=3000)
    d = tmp_path / "posts"
    d.mkdir()
    with open(d / "a.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text"])
        w.writerows([t] for t in texts[:500])
    (d / "b.jsonl").write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts[500:1000]),
        encoding="utf-8",
    )
    pq.write_table(pa.table({"text": texts[1000:]}), d / "c.parquet")
    return d


def test_dask_engine_gives_the_local_engines_output_row_for_row(tiny_models_root, tmp_path):
    posts = _mixed_input_dir(tmp_path)
    local, dask = tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    _run(_classify_command(posts, local, tiny_models_root, "--workers", "2", "--batch-size", 300))
    result = _run(
        _classify_command(
            posts,
            dask,
            tiny_models_root,
            "--engine",
            "dask",
            "--workers",
            "2",
            "--batch-size",
            300,
        )
    )
    assert "dask engine, 2 workers" in result.stderr
    local_rows = [json.loads(x) for x in local.read_text().splitlines()]
    dask_rows = [json.loads(x) for x in dask.read_text().splitlines()]
    assert len(local_rows) == len(dask_rows) > 1400  # a few empty comments are rejected
    for a, b in zip(local_rows, dask_rows, strict=True):
        assert a == b
    assert local_rows[0]["id"] == f"{posts / 'a.csv'}:1"
    assert dask_rows[-1]["id"].startswith(f"{posts / 'c.parquet'}:")
    assert local.read_bytes() == dask.read_bytes()


def test_a_directory_reads_its_files_in_order_as_one_input(tiny_models_root, tmp_path):
    posts = _mixed_input_dir(tmp_path)
    (posts / "d.jsonl").write_text('{"text": ""}\nnot json\n', encoding="utf-8")
    out = tmp_path / "scores.csv"
    args = ["--task", "hostile", "--models-root", str(tiny_models_root), "--workers", "1"]
    assert main(["classify", str(posts), "-o", str(out), *args]) == 0
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    files = [r["id"].rsplit(":", 1)[0] for r in rows]
    assert files == sorted(files) and len(set(files)) == 3
    rejects = [json.loads(x) for x in (tmp_path / "scores.rejects.jsonl").read_text().splitlines()]
    assert {"file": str(posts / "d.jsonl"), "line": 2} == {
        k: rejects[-1][k] for k in ("file", "line")
    }
    assert all("file" in r for r in rejects)


def test_ids_of_any_json_or_parquet_type_come_through(tiny_models_root, tmp_path):
    """Fast paths (orjson) fall back to json for what they refuse: integers past 64 bits,
    NaN; Parquet timestamps become ISO 8601 text."""
    import datetime

    src = tmp_path / "posts.jsonl"
    src.write_text(
        f'{{"id": {2**70}, "text": "mày ngu quá", "score": NaN}}\n'
        '{"id": [1, "a"], "text": "trời đẹp"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "scores.jsonl"
    args = ["--task", "hostile", "--models-root", str(tiny_models_root), "--workers", "1"]
    assert main(["classify", str(src), "-o", str(out), *args]) == 0
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [2**70, [1, "a"]]

    when = datetime.datetime(2026, 11, 26, 8, 30)
    pq.write_table(pa.table({"id": [when], "text": ["mày ngu quá"]}), tmp_path / "t.parquet")
    assert main(["classify", str(tmp_path / "t.parquet"), "-o", str(out), *args]) == 0
    assert json.loads(out.read_text())["id"] == when.isoformat()


def test_dask_engine_scores_on_a_running_scheduler_given_by_address(tiny_models_root, tmp_path):
    from dask.distributed import LocalCluster

    src = _posts_file(tmp_path / "posts.jsonl", 400)
    local, remote = tmp_path / "local.jsonl", tmp_path / "remote.jsonl"
    _run(_classify_command(src, local, tiny_models_root, "--workers", "1"))
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        result = _run(
            _classify_command(
                src,
                remote,
                tiny_models_root,
                "--engine",
                "dask",
                "--scheduler",
                cluster.scheduler_address,
                "--batch-size",
                100,
            )
        )
    assert remote.read_bytes() == local.read_bytes()
    assert "rejected 2" in result.stderr


@pytest.mark.slow  # waits out the client's 10 s connection timeout
def test_an_unreachable_scheduler_is_a_clear_error(tiny_models_root, tmp_path):
    src = _posts_file(tmp_path / "posts.jsonl", 10)
    result = subprocess.run(
        _classify_command(
            src,
            tmp_path / "o.jsonl",
            tiny_models_root,
            "--engine",
            "dask",
            "--scheduler",
            "tcp://127.0.0.1:9",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "expected the address of a running Dask scheduler" in result.stderr
    assert "tcp://127.0.0.1:9" in result.stderr


def test_scheduler_without_the_dask_engine_is_refused(capsys, tmp_path):
    code = main(["classify", str(tmp_path / "x.jsonl"), "--scheduler", "tcp://h:8786"])
    assert code == 2 and "--engine dask" in capsys.readouterr().err
