"""The edges of a classify run: kills during the final renames, resuming a finished
output, two runs on one output, stdin's rejects file, skipped files and the summary."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.batch.output_lock import OutputLock
from pipeline.batch.outputs import PartialRejects
from pipeline.cli import main
from tests.conftest import REPO


def _args(models_root) -> list[str]:
    return ["--task", "hostile", "--models-root", str(models_root), "--workers", "1"]


def _posts(path: Path, n: int = 40) -> Path:
    lines = [json.dumps({"id": f"p{i}", "text": f"bài viết số {i} về giá xăng"}) for i in range(n)]
    lines[5] = '{"id": "broken", '
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_analysts_broken_quote_csv_scores_three_of_four_and_says_what_it_read(
    tiny_models_root, tmp_path, capsys
):
    src = tmp_path / "q.csv"
    src.write_text('id,text\nu1,ok\nu2,"never closed\nu3,x\nu4,y\n')
    out = tmp_path / "q.jsonl"
    assert main(["classify", str(src), "-o", str(out), *_args(tiny_models_root)]) == 0
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["u1", "u3", "u4"]
    rejects = [json.loads(x) for x in (tmp_path / "q.rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["id"]) for r in rejects] == [(3, "u2")]
    assert "read 5 lines; scored 3 rows, rejected 1" in capsys.readouterr().err


@pytest.mark.parametrize("after_rejects", [False, True])
def test_a_kill_during_the_final_renames_is_finished_by_resume(
    tiny_models_root, tmp_path, capsys, monkeypatch, after_rejects
):
    src = _posts(tmp_path / "posts.jsonl")
    expected = tmp_path / "expected.jsonl"
    assert main(["classify", str(src), "-o", str(expected), *_args(tiny_models_root)]) == 0
    out = tmp_path / "scores.jsonl"
    commit = PartialRejects.commit

    def killed(self):
        if after_rejects:
            commit(self)  # both renames done, the checkpoint not yet removed
        raise KeyboardInterrupt  # stands for SIGKILL between the renames

    monkeypatch.setattr(PartialRejects, "commit", killed)
    assert main(["classify", str(src), "-o", str(out), *_args(tiny_models_root)]) == 130
    monkeypatch.setattr(PartialRejects, "commit", commit)
    checkpoint = tmp_path / "scores.jsonl.resume.json"
    assert out.exists() and checkpoint.exists()
    capsys.readouterr()

    code = main(["classify", str(src), "-o", str(out), *_args(tiny_models_root), "--resume"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "already complete (39 scored, 1 rejected)" in err
    assert out.read_bytes() == expected.read_bytes()
    assert (tmp_path / "scores.rejects.jsonl").read_bytes() == (
        tmp_path / "expected.rejects.jsonl"
    ).read_bytes()
    assert not checkpoint.exists() and not (tmp_path / "scores.rejects.jsonl.partial").exists()


def test_resume_on_a_finished_output_does_not_run_again(tiny_models_root, tmp_path, capsys):
    src = _posts(tmp_path / "posts.jsonl")
    out = tmp_path / "scores.jsonl"
    assert main(["classify", str(src), "-o", str(out), *_args(tiny_models_root)]) == 0
    written = out.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["classify", str(src), "-o", str(out), *_args(tiny_models_root), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "is already complete: nothing to resume" in err and "scored" not in err
    assert out.stat().st_mtime_ns == written


def test_a_second_run_on_the_same_output_is_refused(tiny_models_root, tmp_path):
    src = _posts(tmp_path / "posts.jsonl")
    out = tmp_path / "scores.jsonl"
    command = [sys.executable, str(REPO / "classify.py"), str(src), "-o", str(out)]
    with OutputLock(out):  # stands for a first run still writing
        result = subprocess.run(
            [*command, *_args(tiny_models_root)], capture_output=True, text=True, timeout=300
        )
    assert result.returncode == 2
    assert "is writing it" in result.stderr and "another -o OUTPUT" in result.stderr
    assert not out.exists()
    assert subprocess.run([*command, *_args(tiny_models_root)], timeout=300).returncode == 0
    assert out.exists() and not out.with_name("scores.jsonl.lock").exists()


def _stdin_run(models_root, cwd: Path, lines: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "classify.py"), "-", *_args(models_root)],
        input="\n".join(lines).encode(),
        capture_output=True,
        cwd=cwd,
        timeout=300,
    )


def test_a_stdin_run_keeps_an_earlier_rejects_file_unless_it_rejects_something(
    tiny_models_root, tmp_path
):
    earlier = tmp_path / "stdin.rejects.jsonl"
    earlier.write_text('{"line": 9, "reason": "from an earlier run"}\n')
    result = _stdin_run(tiny_models_root, tmp_path, ['{"text": "Chúc mừng năm mới"}'])
    assert result.returncode == 0 and "rejected 0" in result.stderr.decode()
    assert "earlier run" in earlier.read_text()
    result = _stdin_run(tiny_models_root, tmp_path, ['{"text": "ok"}', "{không phải json"])
    assert result.returncode == 0
    assert json.loads(earlier.read_text())["line"] == 2


def test_files_a_directory_holds_that_are_not_inputs_are_listed(tiny_models_root, tmp_path, capsys):
    posts = tmp_path / "posts"
    posts.mkdir()
    _posts(posts / "a.jsonl", 10)
    (posts / "b.jsonl.gz").write_bytes(gzip.compress(b'{"id": "z", "text": "nen"}\n'))
    (posts / "readme.txt").write_text("x")
    (posts / "old.gz").write_bytes(gzip.compress(b"x"))
    out = tmp_path / "scores.jsonl"
    assert main(["classify", str(posts), "-o", str(out), *_args(tiny_models_root)]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 files" in err and "old.gz" in err and "readme.txt" in err
    assert len(out.read_text().splitlines()) == 10  # 9 of a.jsonl, 1 of b.jsonl.gz


def test_the_progress_bar_counts_bytes_of_the_input_size(tiny_models_root, tmp_path):
    from pipeline.batch.run import ClassifyRun, LocalEngine, classify_files
    from pipeline.model.directory import current_model_dir

    src = _posts(tmp_path / "posts.jsonl", 500)

    class Bar:
        total, n, steps = src.stat().st_size, 0, 0

        def update(self, k):
            self.n += k
            self.steps += 1

    run = ClassifyRun(
        [str(src)],
        str(tmp_path / "s.jsonl"),
        tmp_path / "s.rejects.jsonl",
        [current_model_dir(tiny_models_root, "hostile")],
        chunk_rows=100,
    )
    bar = Bar()
    classify_files(run, LocalEngine(run.job(), 1), progress=bar)
    assert bar.n == src.stat().st_size and bar.steps == 5


def test_a_wrong_encoding_or_delimiter_option_is_refused_before_any_work(capsys):
    assert main(["classify", "x.csv", "--encoding", "klingon"]) == 2
    assert "cp1258" in capsys.readouterr().err
    assert main(["classify", "x.csv", "--delimiter", ";;"]) == 2
    assert "one character" in capsys.readouterr().err
