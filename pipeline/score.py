"""Score posts with one model per task: labels, calibrated probabilities, risk and the words
that drove them, as one output record per post.

>>> classifier = Classifier.from_models_root("models", ["hostile"])   # doctest: +SKIP
>>> classifier.score(["Mày ngu vl"])[0]["scores"]["hostile"]["label"]  # doctest: +SKIP
'offensive'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .errors import InputError
from .ingest import RAW_KEEP, Reject, Row
from .model.base import Scorer
from .model.directory import current_model_dir, load_model, model_version
from .prepare import prepare
from .tasks import known_tasks

PROBA_DIGITS = 4


class Classifier:
    """The models of one classification run, keyed by task name."""

    def __init__(self, models: dict[str, Scorer], versions: dict[str, str], top_words: int = 5):
        self.models = models
        self.versions = versions
        self.top_words = top_words

    @classmethod
    def from_dirs(cls, model_dirs: Sequence[Path], top_words: int = 5) -> Classifier:
        models, versions = {}, {}
        for d in model_dirs:
            model = load_model(d)
            if model.task.name in models:
                raise InputError(
                    "--model",
                    expected="at most one model per task",
                    found=f"two models for task {model.task.name!r}",
                    fix="Pass one --model per task.",
                )
            models[model.task.name] = model
            versions[model.task.name] = model_version(d)
        return cls(models, versions, top_words)

    @classmethod
    def from_models_root(
        cls, models_root: Path, tasks: Sequence[str], top_words: int = 5
    ) -> Classifier:
        """The current model of each task under ``models_root``."""
        unknown = [t for t in tasks if t not in known_tasks()]
        if unknown:
            raise InputError(
                "--task",
                expected=f"one of {[*known_tasks(), 'all']}",
                found=", ".join(unknown),
                fix="Pick a bundled task, or pass --model DIR for a model of another task.",
            )
        return cls.from_dirs([current_model_dir(models_root, t) for t in tasks], top_words)

    @property
    def tasks(self) -> list[str]:
        return list(self.models)

    def score(
        self, texts: Sequence[str], ids: Sequence | None = None, workers: int = 1
    ) -> list[dict]:
        """One record per text, in order: id, text, scores per task, model versions."""
        if isinstance(texts, str):
            raise TypeError("score() expects a list of texts; wrap a single text in a list")
        texts = list(texts)
        ids = list(range(1, len(texts) + 1)) if ids is None else list(ids)
        prepared = prepare(texts, workers=workers)
        records = [
            {"id": i, "text": t, "scores": {}, "model_versions": self.versions}
            for i, t in zip(ids, texts, strict=True)
        ]
        for task, model in self.models.items():
            proba = model.predict_proba(prepared)
            labels = model.labels_from_proba(proba)
            risk = model.risk_from_proba(proba)
            words = model.explain(prepared, top_k=self.top_words, proba=proba)
            for k, record in enumerate(records):
                record["scores"][task] = {
                    "label": labels[k],
                    "proba": {
                        c: round(float(p), PROBA_DIGITS)
                        for c, p in zip(model.classes_, proba[k], strict=True)
                    },
                    "risk": round(float(risk[k]), PROBA_DIGITS),
                    "words": words[k],
                }
        return records

    def score_rows(self, rows: Sequence[Row], workers: int = 1) -> list[dict]:
        return self.score([r.text for r in rows], [r.id for r in rows], workers=workers)

    def score_rows_or_reject(self, rows: Sequence[Row], workers: int = 1):
        """Score a batch; if it fails, score row by row and reject only the rows that fail.

        Returns ``(records, rejects)``: one bad row never costs the rest of its batch.
        """
        try:
            return self.score_rows(rows, workers=workers), []
        except Exception:  # isolate the row that breaks a batch
            records, rejects = [], []
            for row in rows:
                try:
                    records += self.score_rows([row])
                except Exception as exc:
                    reason = f"scoring failed: {type(exc).__name__}: {exc}"
                    rejects.append(
                        Reject(row.number, row.id, reason, row.text[:RAW_KEEP], row.unit)
                    )
            return records, rejects
