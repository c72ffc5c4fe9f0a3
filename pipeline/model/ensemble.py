"""The ``ensemble`` family: member models of other families, combined with weights fitted on
a dev set, then calibrated and given a decision rule as a single model is.

The members (by default the linear and the neural family) are fitted on the training texts
less a dev set: the corpus's dev split when training gives one, else a seeded, stratified
share of the training texts. On the dev set, the members' log-probabilities are mixed,
``z = sum_m w_m log p_m``, with the weights (summing to 1, a grid of ``weight_step``) that
give the lowest log-loss once ``z`` is calibrated (a temperature and a bias per label, as
:mod:`pipeline.model.calibration` fits them); the decision weights come from the same dev
set. A member that needs a dev set itself (early stopping) is handed the same one.

A post's words are the members' words merged by their place in the text, each member's
weight scaled by its mixing weight and the ensemble's temperature: the share of the
ensemble's calibrated log-odds each member attributes to the word.

The directory holds ``members.json`` (the members, their mixing weights) and one
subdirectory per member, ``members/<i>-<family>/``, with that member's own ``config.json``
and weight files, loaded by its own family.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.special import log_softmax

from ..errors import InputError, ModelDirError
from ..tasks import Task
from ..text.prepare import PREPROCESSING, Prepared, as_prepared
from .base import WEIGHT_DIGITS, Scorer, Word, labels_to_ids
from .calibration import calibrated_proba, fit_decision_weights, fit_temperature_and_bias

MEMBERS_FILE = "members.json"
MEMBERS_DIR = "members"
DEFAULT_MEMBERS = ({"family": "linear"}, {"family": "neural"})
_EPS = 1e-12


class EnsembleScorer(Scorer):
    """Members of other families mixed on a dev set.

    ``members``: a list of ``{"family": NAME, "hyperparameters": {...}}`` (default: linear
    and neural with their defaults); ``dev_fraction`` and ``seed`` pick the dev set when
    ``fit`` is given none; ``weight_step`` is the grid of the mixing weights.
    """

    family = "ensemble"
    files = (MEMBERS_FILE,)

    def __init__(
        self,
        task: Task,
        members: list[dict] | None = None,
        dev_fraction: float = 0.1,
        seed: int = 0,
        weight_step: float = 0.05,
    ):
        self.task = task
        self.members = [dict(m) for m in (members or DEFAULT_MEMBERS)]
        self.dev_fraction = dev_fraction
        self.seed = seed
        self.weight_step = weight_step

    # ------------------------------------------------------------------------- fitting

    def _new_members(self) -> list[Scorer]:
        from .families import SCORERS

        made = []
        for spec in self.members:
            family = spec.get("family")
            if family not in SCORERS or family == self.family:
                raise InputError(
                    "ensemble members",
                    expected=f"families from {sorted(set(SCORERS) - {self.family})}",
                    found=repr(family),
                    fix="Name each member's family, e.g. {'family': 'linear'}.",
                )
            made.append(SCORERS[family](self.task, **spec.get("hyperparameters", {})))
        return made

    def fit(
        self,
        texts: Sequence[str] | Sequence[Prepared],
        labels: Sequence[str],
        dev: tuple[Sequence, Sequence[str]] | None = None,
    ) -> EnsembleScorer:
        prepared, labels = as_prepared(texts), list(labels)
        if dev is None:
            from .transformer import hold_out_dev

            fit_idx, dev_idx = hold_out_dev(labels, self.dev_fraction, self.seed)
            dev = ([prepared[i] for i in dev_idx], [labels[i] for i in dev_idx])
            prepared = [prepared[i] for i in fit_idx]
            labels = [labels[i] for i in fit_idx]
        dev_texts, dev_labels = as_prepared(dev[0]), list(dev[1])
        self.classes_ = list(self.task.labels)
        self.members_ = []
        for member in self._new_members():
            if "dev" in inspect.signature(member.fit).parameters:
                member.fit(prepared, labels, dev=(dev_texts, dev_labels))
            else:
                member.fit(prepared, labels)
            self.members_.append(member)

        y = labels_to_ids(dev_labels, self.classes_)
        logs = [np.log(m.predict_proba(dev_texts) + _EPS) for m in self.members_]
        best = None
        for weights in _weight_grid(len(logs), self.weight_step):
            z = _mix(logs, weights)
            temperature, bias = fit_temperature_and_bias(z, y)
            loss = -log_softmax(z / temperature + bias, axis=1)[np.arange(len(y)), y].mean()
            if best is None or loss < best[0] - 1e-12:
                best = (loss, weights, temperature, bias)
        _, self.weights_, self.temperature_, self.bias_ = best
        z = _mix(logs, self.weights_)
        self.decision_weights_ = fit_decision_weights(
            calibrated_proba(z, self.temperature_, self.bias_), y
        )
        self.dev_log_loss_ = float(best[0])
        return self

    # ------------------------------------------------------------------------- scoring

    def _logits(self, prepared: list[Prepared]) -> np.ndarray:
        logs = [np.log(m.predict_proba(prepared) + _EPS) for m in self.members_]
        return _mix(logs, self.weights_)

    def predict_proba(self, texts: Sequence[str] | Sequence[Prepared]) -> np.ndarray:
        prepared = as_prepared(texts)
        if not prepared:
            return np.zeros((0, len(self.classes_)))
        return calibrated_proba(self._logits(prepared), self.temperature_, self.bias_)

    def explain(
        self,
        texts: Sequence[str] | Sequence[Prepared],
        top_k: int = 5,
        proba: np.ndarray | None = None,
    ) -> list[list[Word]]:
        return self.predict_and_explain(texts, top_k)[1]

    def predict_and_explain(
        self, texts: Sequence[str] | Sequence[Prepared], top_k: int = 5
    ) -> tuple[np.ndarray, list[list[Word]]]:
        """Each member scores and explains once; their words merge by place in the text."""
        prepared = as_prepared(texts)
        if not prepared:
            return np.zeros((0, len(self.classes_))), []
        logs, explained = [], []
        for member in self.members_:
            proba, words = member.predict_and_explain(prepared, top_k=2 * top_k)
            logs.append(np.log(proba + _EPS))
            explained.append(words)
        proba = calibrated_proba(_mix(logs, self.weights_), self.temperature_, self.bias_)
        scale = np.asarray(self.weights_) / self.temperature_
        words = [
            _merge([member_words[d] for member_words in explained], scale, top_k)
            for d in range(len(prepared))
        ]
        return proba, words

    # ------------------------------------------------------------------------- files

    def save(self, directory: Path) -> dict:
        from .directory import save_model

        directory = Path(directory)
        names = []
        for i, member in enumerate(self.members_):
            name = f"{i}-{member.family}"
            save_model(member, directory / MEMBERS_DIR / name, extra_config={})
            names.append(name)
        arrays = {
            "weights": [float(w) for w in self.weights_],
            "bias": [float(b) for b in self.bias_],
            "decision_weights": [float(w) for w in self.decision_weights_],
            "dev_log_loss": self.dev_log_loss_,
        }
        (directory / MEMBERS_FILE).write_text(
            json.dumps({"members": names, **arrays}, indent=2) + "\n", encoding="utf-8"
        )
        return {
            "family": self.family,
            "hyperparameters": self.get_params(),
            "mixing_weights": dict(zip(names, map(float, self.weights_), strict=True)),
            "calibration": {"method": "temperature+bias", "temperature": self.temperature_},
            **PREPROCESSING,
        }

    @classmethod
    def load(cls, directory: Path, config: dict, task: Task) -> EnsembleScorer:
        from .config_file import read_config
        from .families import scorer_class

        directory = Path(directory)
        self = cls(task, **config["hyperparameters"])
        state = json.loads((directory / MEMBERS_FILE).read_text(encoding="utf-8"))
        self.members_ = []
        for name in state["members"]:
            member_dir = directory / MEMBERS_DIR / name
            if not member_dir.is_dir():
                raise ModelDirError(
                    f"model directory {directory}",
                    expected=f"the member directory {MEMBERS_DIR}/{name}",
                    found="no such directory",
                    fix="Copy the whole ensemble directory, members included.",
                )
            member_config = read_config(member_dir)
            family = scorer_class(member_config["family"], member_dir)
            self.members_.append(family.load(member_dir, member_config, task))
        if len(state["weights"]) != len(self.members_):
            raise ValueError(f"{len(state['weights'])} weights for {len(self.members_)} members")
        self.classes_ = list(task.labels)
        self.weights_ = np.asarray(state["weights"], dtype=np.float64)
        self.bias_ = np.asarray(state["bias"], dtype=np.float64)
        self.decision_weights_ = np.asarray(state["decision_weights"], dtype=np.float64)
        self.dev_log_loss_ = float(state["dev_log_loss"])
        self.temperature_ = float(config["calibration"]["temperature"])
        return self


def _weight_grid(n: int, step: float) -> list[tuple[float, ...]]:
    """Every ``n`` weights on a grid of ``step`` that sum to 1 (one member: just 1)."""
    units = round(1 / step)

    def splits(k: int, left: int):
        if k == 1:
            yield (left,)
            return
        for first in range(left + 1):
            for rest in splits(k - 1, left - first):
                yield (first, *rest)

    return [tuple(u / units for u in s) for s in splits(n, units)]


def _mix(logs: list[np.ndarray], weights) -> np.ndarray:
    return sum(w * z for w, z in zip(weights, logs, strict=True))


def _merge(member_words: list[list[Word]], scale: np.ndarray, top_k: int) -> list[Word]:
    """One post's words from every member, summed by place, strongest first."""
    merged: dict[tuple[int, int], Word] = {}
    for words, s in zip(member_words, scale, strict=True):
        for w in words:
            key = (w["start"], w["end"])
            if key in merged:
                merged[key]["weight"] += w["weight"] * s
            else:
                merged[key] = {**w, "weight": w["weight"] * s}
    ranked = sorted(merged.values(), key=lambda w: (-w["weight"], w["start"]))
    return [
        {**w, "weight": round(float(w["weight"]), WEIGHT_DIGITS)}
        for w in ranked[:top_k]
        if w["weight"] > 0
    ]
