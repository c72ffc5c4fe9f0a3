"""The notebooks run top to bottom on a fresh checkout, as CI runs them, and are committed clean.

Each notebook is executed once (nbclient, kernel ``python3`` from the venv's ipykernel, the
kernel's working directory ``notebooks/``) and its outputs are inspected: no cell failed,
the key tables and figures are there, the figures it prints add up, no personal data is
shown, and nothing was written into the repository. Execution needs the reference corpora:
without them these tests skip, or fail when ``CI`` is set.
"""

from __future__ import annotations

import json
import time

import nbformat
import pytest
from nbclient import NotebookClient

from pipeline.model.directory import current_model_dir
from pipeline.text.normalise import personal_data_spans
from tests.conftest import REPO, require_corpora

NOTEBOOKS = REPO / "notebooks"
NAMES = ("error_analysis.ipynb", "queue_thresholds.ipynb")
CELL_TIMEOUT = 120  # seconds per cell; a whole notebook takes under a minute on 2 cores
def _snapshot() -> dict[str, tuple[int, int]]:
    """What a notebook could write by mistake: files under notebooks/ and models/, and the
    names at the top of the checkout."""
    files = {p.name: (0, 0) for p in REPO.iterdir()}
    for folder in (NOTEBOOKS, REPO / "models"):
        for p in folder.rglob("*"):
            if "__pycache__" not in p.parts:
                st = p.stat()
                files[str(p.relative_to(REPO))] = (st.st_size, st.st_mtime_ns)
    return files


_RUNS: dict[str, tuple | Exception] = {}


def _executed(name: str) -> tuple[nbformat.NotebookNode, float, dict, dict]:
    """Each notebook runs once per session; a failure is kept and raised again, not rerun."""
    if name not in _RUNS:
        try:
            _RUNS[name] = _execute(name)
        except Exception as exc:  # a failing cell: every test of this notebook reports it
            _RUNS[name] = exc
    result = _RUNS[name]
    if isinstance(result, Exception):
        raise result
    return result


def _execute(name: str) -> tuple[nbformat.NotebookNode, float, dict, dict]:
    """Run a notebook in memory (the file is never written); its outputs, time and snapshots."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    before = _snapshot()
    started = time.perf_counter()
    NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    return nb, time.perf_counter() - started, before, _snapshot()


def _outputs(nb, key: str) -> list[str]:
    """Every output of the given MIME type (``stream`` for printed text), as text."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if key == "stream" and out.output_type == "stream":
                found.append(out.text)
            elif key in out.get("data", {}):
                found.append(out.data[key])
    return found


def _summary(nb) -> dict:
    """The key figures the notebook's last cell prints as JSON."""
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    text = "".join(o.text for o in last.outputs if o.output_type == "stream")
    return json.loads(text)


# ---------------------------------------------------------------- committed clean


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_is_committed_without_outputs_for_a_python3_kernel(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, (
            f"{name} has outputs; clear them before committing (see notebooks/README.md)"
        )


def test_every_notebook_in_the_folder_is_executed_here():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


# ---------------------------------------------------------------- executed


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_runs_top_to_bottom_and_writes_nothing(name):
    require_corpora("vihsd/test.csv", "reintel/test.csv")
    nb, seconds, before, after = _executed(name)  # a failing cell raises CellExecutionError
    print(f"{name}: {seconds:.1f} s")
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert after == before, "executing the notebook changed files in the repository"


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_shows_no_personal_data(name):
    require_corpora("vihsd/test.csv", "reintel/test.csv")
    nb = _executed(name)[0]
    for text in [*_outputs(nb, "text/plain"), *_outputs(nb, "stream"), *_outputs(nb, "text/html")]:
        assert personal_data_spans(text) == [], text[:500]


def test_error_analysis_shows_the_confusion_matrix_classes_slices_and_explained_errors():
    require_corpora("vihsd/test.csv", "reintel/test.csv")
    nb = _executed("error_analysis.ipynb")[0]
    summary = _summary(nb)
    model_dir = current_model_dir(REPO / "models", "hostile")
    recorded = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    assert summary["model"] == f"hostile/{model_dir.name}"
    assert summary["macro_f1"] == pytest.approx(
        recorded["test_sets"]["vihsd/test"]["macro_f1"], abs=0.002
    )

    cm = summary["confusion_matrix"]
    assert cm["labels"] == ["clean", "offensive", "hate"]
    assert sum(map(sum, cm["counts"])) == summary["n_test"] > 6000
    wrong = summary["n_test"] - sum(cm["counts"][i][i] for i in range(3))
    assert summary["errors"] == wrong == sum(summary["error_kinds"].values())
    assert set(summary["per_class"]) == {"clean", "offensive", "hate", "risky (offensive or hate)"}
    for figures in summary["per_class"].values():
        assert 0 < figures["precision"] <= 1 and 0 < figures["recall"] <= 1
    assert {"all", "no_diacritics", "text also in train"} <= set(summary["slice_error_rate"])
    assert summary["top_false_alarm_words"]

    html = "\n".join(_outputs(nb, "text/html"))
    for column in ("precision", "recall", "support", "error rate", "share of errors",
                   "words (weight)", "false alarm", "correct flag"):
        assert f"<th>{column}</th>" in html, column
    assert len(_outputs(nb, "image/png")) >= 3  # confusion matrix, slices, risk by label
    assert len(_outputs(nb, "text/markdown")) >= 3  # sentences computed from the figures


def test_queue_thresholds_recommends_thresholds_that_meet_their_goal_for_both_tasks():
    require_corpora("vihsd/test.csv", "reintel/test.csv")
    nb = _executed("queue_thresholds.ipynb")[0]
    summary = _summary(nb)
    settings = summary["settings"]
    assert set(summary["recommended"]) == {"hostile", "false"}
    for choices in summary["recommended"].values():
        assert set(choices) == {"capacity", "recall_target", "best_f1"}
        for figures in choices.values():
            assert 0 <= figures["threshold"] <= 1
        assert choices["capacity"]["load"] <= settings["capacity_share"]
        assert choices["recall_target"]["recall"] >= settings["recall_target"]
        # reading more finds more: the recall goal asks for a lower threshold here
        assert choices["recall_target"]["threshold"] <= choices["capacity"]["threshold"]
    for calibration in summary["calibration"].values():
        assert 0 <= calibration["error_10_bins"] < 0.1
        assert calibration["expected_risky"] == pytest.approx(
            calibration["observed_risky"], rel=0.15
        )
    for by_share in summary["uncertain_share"].values():
        assert {"0.0", "0.2"} <= set(by_share)

    html = "\n".join(_outputs(nb, "text/html"))
    for column in ("load", "precision", "recall", "f1", "recall hate", "mean_risk", "observed",
                   "uncertain places", "model labels corrected"):
        assert f"<th>{column}</th>" in html, column
    # threshold curves, load vs recall, calibration, uncertain share
    assert len(_outputs(nb, "image/png")) >= 4
