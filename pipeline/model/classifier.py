"""Score posts with one model per task: labels, calibrated probabilities, risk and the words
that drove them, as one output record per post.

>>> classifier = Classifier.from_models_root("models", ["hostile"])   # doctest: +SKIP
>>> classifier.score(["Mày ngu vl"])[0]["scores"]["hostile"]["label"]  # doctest: +SKIP
'offensive'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..batch.inputs import RAW_KEEP, Reject, Row
from ..errors import InputError, scoring_failed
from ..tasks import known_tasks
from ..text.prepare import prepare
from .base import Scorer
from .content import parse_meta
from .directory import current_model_dir, load_model, model_version

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
        cls.check_tasks(tasks)
        return cls.from_dirs([current_model_dir(models_root, t) for t in tasks], top_words)

    @staticmethod
    def check_tasks(tasks: Sequence[str]) -> None:
        unknown = [t for t in tasks if t not in known_tasks()]
        if unknown:
            raise InputError(
                "--task",
                expected=f"one of {[*known_tasks(), 'all']}",
                found=", ".join(unknown),
                fix="Pick a bundled task, or pass --model DIR for a model of another task.",
            )

    @property
    def tasks(self) -> list[str]:
        return list(self.models)

    @property
    def content_columns(self) -> tuple[str, ...]:
        """The input columns the models with content features read (their tasks'
        ``content_columns``), in order; empty when no model has content features."""
        columns: dict[str, None] = {}
        for model in self.models.values():
            if model.content_features:
                columns.update(dict.fromkeys(model.task.content_columns.values()))
        return tuple(columns)

    def score(
        self,
        texts: Sequence[str],
        ids: Sequence | None = None,
        workers: int = 1,
        content: Sequence[dict | None] | None = None,
    ) -> list[dict]:
        """One record per text, in order: id, text, scores per task, model versions.

        ``content`` holds each text's input fields that models with content features read
        (column -> value, see :attr:`content_columns`; ``None``: none, unknown). Each distinct
        text (with its content fields) is prepared and scored once; repeats share its scores.
        """
        if isinstance(texts, str):
            raise TypeError("score() expects a list of texts; wrap a single text in a list")
        texts = list(texts)
        ids = list(range(1, len(texts) + 1)) if ids is None else list(ids)
        if len(ids) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(ids)} ids")
        columns = self.content_columns
        if not columns or content is None:
            content = [None] * len(texts)
        elif len(content) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(content)} content entries")
        keys = [  # (repr: a field of a JSON input may hold a list, which cannot be a key)
            (t, tuple(repr((c or {}).get(k)) for k in columns)) if columns else t
            for t, c in zip(texts, content, strict=True)
        ]
        distinct = list(dict.fromkeys(keys))
        fields = dict(zip(keys, content, strict=True))  # the raw fields of each distinct key
        texts_once = list(dict.fromkeys(texts))
        by_text = dict(zip(texts_once, prepare(texts_once, workers=workers), strict=True))
        prepared = [by_text[k[0] if columns else k] for k in distinct]
        scores: list[dict] = [{} for _ in distinct]
        for task, model in self.models.items():
            if model.content_features:
                mapping = model.task.content_columns
                meta = [parse_meta(fields[k] or {}, mapping) for k in distinct]
                proba, words = model.predict_and_explain(prepared, top_k=self.top_words, meta=meta)
            else:
                proba, words = model.predict_and_explain(prepared, top_k=self.top_words)
            labels = model.labels_from_proba(proba)
            risk = model.risk_from_proba(proba).tolist()
            classes = model.classes_
            for k, row in enumerate(proba.tolist()):
                scores[k][task] = {
                    "label": labels[k],
                    "proba": {c: round(p, PROBA_DIGITS) for c, p in zip(classes, row, strict=True)},
                    "risk": round(risk[k], PROBA_DIGITS),
                    "words": words[k],
                }
        by_key = dict(zip(distinct, scores, strict=True))
        return [
            {"id": i, "text": t, "scores": by_key[k], "model_versions": self.versions}
            for i, t, k in zip(ids, texts, keys, strict=True)
        ]

    def score_rows(self, rows: Sequence[Row], workers: int = 1) -> list[dict]:
        return self.score(
            [r.text for r in rows], [r.id for r in rows], workers, [r.content for r in rows]
        )

    def score_each(
        self,
        texts: Sequence[str],
        ids: Sequence,
        workers: int = 1,
        content: Sequence[dict | None] | None = None,
    ) -> list:
        """Score a batch; if it fails, score text by text: for each text its record, or the
        exception scoring it raised, so one bad text never costs the rest of its batch."""
        try:
            return self.score(texts, ids, workers=workers, content=content)
        except Exception:  # isolate the text that breaks a batch
            outcomes = []
            content = [None] * len(texts) if content is None else content
            for text, id_, fields in zip(texts, ids, content, strict=True):
                try:
                    outcomes += self.score([text], [id_], content=[fields])
                except Exception as exc:
                    outcomes.append(exc)
            return outcomes

    def score_rows_or_reject(self, rows: Sequence[Row], workers: int = 1):
        """Score a batch of rows: ``(records, rejects)``, a row whose scoring fails rejected
        with the reason (see :meth:`score_each`)."""
        records, rejects = [], []
        outcomes = self.score_each(
            [r.text for r in rows], [r.id for r in rows], workers, [r.content for r in rows]
        )
        for row, outcome in zip(rows, outcomes, strict=True):
            if isinstance(outcome, Exception):
                reason = scoring_failed(outcome)
                rejects.append(Reject(row.number, row.id, reason, row.text[:RAW_KEEP], row.unit))
            else:
                records.append(outcome)
        return records, rejects
