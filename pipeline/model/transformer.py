"""The ``transformer`` family: a fine-tuned Hugging Face encoder, calibrated on a dev set.

Any encoder that ``AutoModelForSequenceClassification`` loads can be fine-tuned: PhoBERT
wants word-segmented input (``sinh_viên của trường``, ``segmented_input=True``), XLM-R and
ViSoBERT take the normalised text as it is (``segmented_input=False``). The base model is a
local directory, or a hub id for users with a network (tests never download).

Training runs the Hugging Face ``Trainer`` (``pipeline.model._hf_training``): cross-entropy
weighted per label against class imbalance, evaluation on a dev set every ``eval_steps``
(default once per epoch) with early stopping on its macro-F1 and the best checkpoint
restored at the end, checkpoints under a work directory that ``resume=True`` continues
from, a fixed seed, and bf16 (fp16 where bf16 is not supported) only on CUDA; CPU otherwise.

Probabilities are ``softmax(logits / T + b)``: a temperature and a bias per label fitted by
log-loss on the dev logits of the best checkpoint (``pipeline.model.calibration``). Labels
are decided like the linear family's: calibrated probabilities times per-label weights
chosen for macro-F1 on the same dev logits. The dev set also chose the checkpoint, so its
calibration is slightly optimistic; a large dev set keeps that small.

``explain`` is leave-one-word-out occlusion: each segmented word is dropped in turn, and its
weight is how much the probability of the post's most likely risky label falls without it.

On disk: ``encoder/`` holds the fine-tuned model (``model.safetensors`` + ``config.json``)
and its tokenizer files, written by ``save_pretrained``; kiemtin's own ``config.json`` holds
the family, the base model and its licence, the hyper-parameters and the calibration. When
``encoder/`` also holds an ONNX export (``pipeline.model.onnx_runtime``), scoring runs it
instead of torch.

torch and transformers are imported only when a model is fitted or loaded, so the rest of
kiemtin works without the ``transformer`` extra.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from ..errors import InputError, ModelDirError
from ..tasks import Task
from ..text.prepare import PREPROCESSING, Prepared, as_prepared
from ._hf_training import fine_tune, last_checkpoint
from .base import Scorer, Word, labels_to_ids, top_words
from .calibration import calibrated_proba, fit_decision_weights, fit_temperature_and_bias
from .onnx_runtime import ENCODER_DIR, OnnxEncoder, has_onnx

log = logging.getLogger(__name__)

EXTRA_FIX = 'Install the transformer extra: pip install -e ".[transformer]"'
UNKNOWN_LICENCE = "unknown: check the base model's terms"
# Known base models and their licence terms, by hub id (case-insensitive).
LICENCES = (
    (re.compile(r"^vinai/phobert-", re.I), "AGPL-3.0 (PhoBERT, VinAI Research)"),
    (
        re.compile(r"^uitnlp/visobert$", re.I),
        "research use only (ViSoBERT, UIT NLP group: non-commercial research and education)",
    ),
    (re.compile(r"^(FacebookAI/)?xlm-roberta-", re.I), "MIT (XLM-RoBERTa, Facebook AI)"),
)
PREDICT_BATCH = 64  # texts per forward pass when scoring
# Calibration temperature bounds: a tiny dev set must not scale logits by hundreds.
TEMPERATURE_RANGE = (0.25, 10.0)


def base_model_licence(base_model: str, given: str | None = None) -> str:
    """The licence terms of a base model: ``given`` when the user states them, else the known
    terms of a hub id, else "unknown".

    >>> base_model_licence("vinai/phobert-base-v2")
    'AGPL-3.0 (PhoBERT, VinAI Research)'
    >>> base_model_licence("FacebookAI/xlm-roberta-base")
    'MIT (XLM-RoBERTa, Facebook AI)'
    >>> base_model_licence("/data/encoders/my-bert")
    "unknown: check the base model's terms"
    """
    if given:
        return given
    if not Path(base_model).exists():
        for pattern, licence in LICENCES:
            if pattern.match(base_model):
                return licence
    return UNKNOWN_LICENCE


def hold_out_dev(labels: Sequence[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, dev): a seeded, stratified ``fraction`` of the rows as the dev set.

    Stratified when every label has at least two rows, else a plain seeded shuffle.
    """
    index = np.arange(len(labels))
    labels = list(labels)
    counts = {lab: labels.count(lab) for lab in set(labels)}
    stratify = labels if min(counts.values(), default=0) >= 2 else None
    n_dev = max(1, round(len(labels) * fraction))
    if stratify is not None:
        n_dev = max(n_dev, len(counts))
    train, dev = train_test_split(index, test_size=n_dev, random_state=seed, stratify=stratify)
    return sorted(int(i) for i in train), sorted(int(i) for i in dev)


def fit_and_dev_sets(scorer: Scorer, texts, labels: Sequence[str], dev) -> tuple:
    """What a family that keeps a dev set fits on, and that dev set: (prepared texts, label
    ids, dev prepared texts, dev label ids). ``dev`` is (texts, labels), or None to hold out
    the scorer's ``dev_fraction`` of ``texts`` (stratified, its ``seed``)."""
    prepared, labels = as_prepared(texts), list(labels)
    if dev is None:
        train_idx, dev_idx = hold_out_dev(labels, scorer.dev_fraction, scorer.seed)
        dev = ([prepared[i] for i in dev_idx], [labels[i] for i in dev_idx])
        prepared, labels = [prepared[i] for i in train_idx], [labels[i] for i in train_idx]
    y = labels_to_ids(labels, scorer.task.labels)
    y_dev = labels_to_ids(list(dev[1]), scorer.task.labels)
    if not len(y) or not len(y_dev):
        raise InputError(
            f"{scorer.family} training data",
            expected="at least one training text and one dev text",
            found=f"{len(y)} training and {len(y_dev)} dev texts",
            fix="Give the corpus more labelled rows, or a dev split.",
        )
    return prepared, y, as_prepared(dev[0]), y_dev


def require_libraries(needed: str):
    """Import torch and transformers, or say how to install them."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise InputError(
            f"{needed} needs torch and transformers",
            expected="the `transformer` extra installed",
            found=f"ImportError: {exc}",
            fix=EXTRA_FIX + ".",
        ) from exc
    return torch, transformers


class TransformerScorer(Scorer):
    """A fine-tuned encoder with a calibrated softmax.

    Parameters are stored as given; learned state ends in ``_``. ``base_model`` is a local
    directory or a hub id; ``segmented_input`` feeds word-segmented text (PhoBERT) instead of
    the normalised text; ``max_length`` caps tokens per post. ``epochs``, ``batch_size``,
    ``learning_rate``, ``weight_decay`` and ``warmup_ratio`` drive the optimiser;
    ``max_steps`` (when set) overrides ``epochs``; ``eval_steps`` is how often the dev set
    is scored (default: once per epoch) and ``early_stopping_patience`` how many scorings
    without a better macro-F1 stop training. ``class_weight="balanced"`` weights the loss by
    ``n / (labels * count)``; ``None`` leaves it unweighted. ``dev_fraction`` of the
    training texts is held out when ``fit`` gets no dev set. ``base_model_licence`` states
    the base model's terms where kiemtin does not know them.
    """

    family = "transformer"
    files = (
        f"{ENCODER_DIR}/config.json",
        f"{ENCODER_DIR}/model.safetensors",
        f"{ENCODER_DIR}/tokenizer_config.json",
    )

    def __init__(
        self,
        task: Task,
        base_model: str,
        segmented_input: bool = True,
        max_length: int = 128,
        epochs: float = 4.0,
        batch_size: int = 16,
        learning_rate: float = 3e-5,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        max_steps: int | None = None,
        eval_steps: int | None = None,
        early_stopping_patience: int = 2,
        class_weight: str | None = "balanced",
        dev_fraction: float = 0.1,
        seed: int = 0,
        base_model_licence: str | None = None,
    ):
        self.task = task
        self.base_model = base_model
        self.segmented_input = segmented_input
        self.max_length = max_length
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.max_steps = max_steps
        self.eval_steps = eval_steps
        self.early_stopping_patience = early_stopping_patience
        self.class_weight = class_weight
        self.dev_fraction = dev_fraction
        self.seed = seed
        self.base_model_licence = base_model_licence

    # -- input -----------------------------------------------------------------------------

    def _input_text(self, p: Prepared) -> str:
        return p.segmented_text if self.segmented_input else p.normalised.text

    def _without_word(self, p: Prepared, i: int) -> str | None:
        """The encoder's input for ``p`` with word ``i`` left out (None: cannot be located)."""
        if self.segmented_input:
            words = p.segmented.words
            return " ".join(words[:i] + words[i + 1 :])
        span = p.segmented.spans[i]
        if span is None:
            return None
        text = p.normalised.text
        return " ".join((text[: span[0]] + " " + text[span[1] :]).split())

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer_(texts, truncation=True, max_length=self.max_length)["input_ids"]

    # -- fit -------------------------------------------------------------------------------

    def fit(
        self,
        texts: Sequence[str] | Sequence[Prepared],
        labels: Sequence[str],
        *,
        dev: tuple[Sequence[str] | Sequence[Prepared], Sequence[str]] | None = None,
        work_dir: str | Path | None = None,
        resume: bool = False,
    ) -> TransformerScorer:
        """Fine-tune on ``texts``; early stopping and calibration use ``dev`` (texts, labels),
        or a held-out ``dev_fraction`` of ``texts`` when it is None.

        Checkpoints go under ``work_dir`` (a temporary directory when None, removed after);
        ``resume=True`` continues from the last checkpoint there, e.g. after an interruption
        or with a larger ``max_steps``. Without ``resume``, old checkpoints there are removed.
        """
        prepared, y, dev_prepared, y_dev = fit_and_dev_sets(self, texts, labels, dev)
        self.classes_ = list(self.task.labels)

        if work_dir is None:
            if resume:
                raise InputError(
                    "resume=True",
                    expected="the work_dir of the run to resume",
                    found="work_dir=None (a temporary directory, gone after its run)",
                    fix="Pass work_dir= both times.",
                )
            with tempfile.TemporaryDirectory(prefix="kiemtin-train-") as tmp:
                return self._fit(prepared, y, dev_prepared, y_dev, Path(tmp), resume=False)
        return self._fit(prepared, y, dev_prepared, y_dev, Path(work_dir), resume=resume)

    def _fit(self, prepared, y, dev_prepared, y_dev, work_dir: Path, resume: bool):
        require_libraries("Training a transformer model")
        work_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = last_checkpoint(work_dir) if resume else None
        if not resume:
            for old in work_dir.glob("checkpoint-*"):
                if old.is_dir() and re.fullmatch(r"checkpoint-\d+", old.name):
                    shutil.rmtree(old)

        with _quiet():
            self._train(prepared, y, dev_prepared, y_dev, work_dir, checkpoint)
        return self

    def _train(self, prepared, y, dev_prepared, y_dev, work_dir: Path, checkpoint: str | None):
        dev_texts = [self._input_text(p) for p in dev_prepared]
        tuned = fine_tune(
            self, [self._input_text(p) for p in prepared], y, dev_texts, y_dev, work_dir,
            checkpoint,
        )
        self.tokenizer_ = tuned.tokenizer
        self.model_type_ = tuned.model.config.model_type
        self.model_ = tuned.model
        self.device_ = next(self.model_.parameters()).device
        self.onnx_ = None
        self.source_dir_ = None
        self.training_log_ = tuned.training_log
        dev_logits = self._logits(dev_texts)
        self.temperature_, self.bias_ = fit_temperature_and_bias(
            dev_logits, y_dev, temperature_range=TEMPERATURE_RANGE
        )
        self.decision_weights_ = fit_decision_weights(
            calibrated_proba(dev_logits, self.temperature_, self.bias_), y_dev
        )
        self.n_dev_ = len(dev_texts)

    # -- scoring ---------------------------------------------------------------------------

    def _logits(self, inputs: list[str]) -> np.ndarray:
        """Raw logits of the encoder, in input order (batched by length)."""
        out = np.zeros((len(inputs), len(self.classes_)))
        if not inputs:
            return out
        ids = self._encode(inputs)
        pad = self.tokenizer_.pad_token_id or 0
        order = np.argsort([len(x) for x in ids], kind="stable")
        for start in range(0, len(order), PREDICT_BATCH):
            batch = order[start : start + PREDICT_BATCH]
            width = max(len(ids[i]) for i in batch)
            input_ids = np.full((len(batch), width), pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            out[batch] = self._forward(input_ids, mask)
        return out

    def _forward(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.onnx_ is not None:
            return np.asarray(self.onnx_.logits(input_ids, mask), dtype=np.float64)
        import torch

        with torch.inference_mode():
            logits = self.model_(
                input_ids=torch.from_numpy(input_ids).to(self.device_),
                attention_mask=torch.from_numpy(mask).to(self.device_),
            ).logits
        return logits.float().cpu().numpy().astype(np.float64)

    def predict_proba(self, texts: Sequence[str] | Sequence[Prepared]) -> np.ndarray:
        prepared = as_prepared(texts)
        logits = self._logits([self._input_text(p) for p in prepared])
        return calibrated_proba(logits, self.temperature_, self.bias_)

    def explain(
        self,
        texts: Sequence[str] | Sequence[Prepared],
        top_k: int = 5,
        proba: np.ndarray | None = None,
    ) -> list[list[Word]]:
        """Words whose removal lowers the probability of the post's most likely risky label
        most, strongest first (leave-one-word-out occlusion; only positive drops).

        Costs one forward pass per word (batched across posts); only the first
        ``max_length`` words can be inside the encoder's window, so later ones are not
        tried. ``top_k=0`` skips the work.
        """
        prepared = as_prepared(texts)
        if top_k <= 0:
            return [[] for _ in prepared]
        proba = self.predict_proba(prepared) if proba is None else proba
        risky = [self.classes_.index(r) for r in self.task.risk_labels]
        variants, owners = [], []
        for n, p in enumerate(prepared):
            for i in range(min(len(p.segmented.words), self.max_length)):
                variant = self._without_word(p, i)
                if variant is not None:
                    variants.append(variant)
                    owners.append((n, i))
        occluded = calibrated_proba(self._logits(variants), self.temperature_, self.bias_)
        parts = [np.zeros(len(p.segmented.words)) for p in prepared]
        targets = [risky[int(np.argmax(row[risky]))] for row in proba]
        for (n, i), row in zip(owners, occluded, strict=True):
            parts[n][i] = proba[n, targets[n]] - row[targets[n]]
        return [top_words(p, part, top_k) for p, part in zip(prepared, parts, strict=True)]

    # -- files -----------------------------------------------------------------------------

    def save(self, directory: Path) -> dict:
        """Write ``encoder/`` (safetensors weights, model config, tokenizer files); return the
        config fields this family owns."""
        target = Path(directory) / ENCODER_DIR
        if target.exists():
            shutil.rmtree(target)
        if self.model_ is not None:
            with _quiet():
                self.model_.save_pretrained(target, **_safe_serialization(self.model_))
                self.tokenizer_.save_pretrained(target)
        else:  # loaded for ONNX scoring only: the files are the model
            shutil.copytree(self.source_dir_, target)
        return {
            "family": self.family,
            "hyperparameters": self.get_params(),
            "base_model": {
                "name": self.base_model,
                "licence": base_model_licence(self.base_model, self.base_model_licence),
                "model_type": self.model_type_,
            },
            "calibration": {
                "method": "temperature+bias",
                "fitted_on": f"dev logits of the best checkpoint ({self.n_dev_} texts)",
                "temperature": self.temperature_,
                "bias": [float(b) for b in self.bias_],
                "decision_weights": [float(w) for w in self.decision_weights_],
                "n_dev": self.n_dev_,
            },
            "training_log": self.training_log_,
            **PREPROCESSING,
        }

    @classmethod
    def load(cls, directory: Path, config: dict, task: Task) -> TransformerScorer:
        directory = Path(directory)
        encoder_dir = directory / ENCODER_DIR
        self = cls(task, **config["hyperparameters"])
        self.classes_ = list(task.labels)
        calibration = config["calibration"]
        self.temperature_ = float(calibration["temperature"])
        self.bias_ = np.asarray(calibration["bias"], dtype=np.float64)
        self.decision_weights_ = np.asarray(calibration["decision_weights"], dtype=np.float64)
        self.n_dev_ = int(calibration["n_dev"])
        self.training_log_ = config.get("training_log", {})
        self.model_type_ = config["base_model"].get("model_type")
        if self.bias_.shape != (len(self.classes_),) or self.decision_weights_.shape != (
            len(self.classes_),
        ):
            raise ValueError(f"calibration does not have one value per label {self.classes_}")
        self.source_dir_ = encoder_dir
        self.onnx_ = _onnx_encoder(encoder_dir)
        try:
            self._load_encoder(encoder_dir)
        except ImportError as exc:
            raise ModelDirError(
                f"model directory {directory}",
                expected="torch and transformers installed to load a transformer model",
                found=f"ImportError: {exc}",
                fix=EXTRA_FIX + ", or score with a linear model.",
            ) from exc
        if self.model_ is not None and self.model_.config.num_labels != len(self.classes_):
            raise ValueError(
                f"encoder has {self.model_.config.num_labels} labels, the task {self.classes_}"
            )
        return self

    def _load_encoder(self, encoder_dir: Path) -> None:
        from transformers import AutoTokenizer

        with _quiet():
            self.tokenizer_ = AutoTokenizer.from_pretrained(str(encoder_dir))
            self.model_ = None
            if self.onnx_ is None:
                import torch
                from transformers import AutoModelForSequenceClassification

                self.device_ = torch.device("cuda" if torch.cuda.is_available() else "cpu")
                self.model_ = AutoModelForSequenceClassification.from_pretrained(
                    str(encoder_dir)
                ).to(self.device_)
                self.model_.eval()

    @property
    def backend_(self) -> str:
        """What scores: ``onnx`` (an export in ``encoder/``) or ``torch``."""
        return "onnx" if self.onnx_ is not None else "torch"


@contextlib.contextmanager
def _quiet():
    """transformers' progress bars and load reports off (kept with ``kiemtin -v``): library
    code does not write to the terminal; the newly initialised head is expected."""
    from transformers.utils import logging as hf_logging

    if log.isEnabledFor(logging.INFO):
        yield
        return
    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _onnx_encoder(encoder_dir: Path):
    """An ONNX Runtime session over ``encoder_dir`` when it holds an export, else None."""
    if not has_onnx(encoder_dir):
        return None
    try:
        return OnnxEncoder(encoder_dir)
    except ImportError as exc:  # onnxruntime missing: torch still works
        log.warning("not using the ONNX export in %s (%s); scoring with torch", encoder_dir, exc)
        return None


def _safe_serialization(model) -> dict:
    """``safe_serialization=True`` where this transformers version still takes it (v5
    always writes safetensors and dropped the argument)."""
    params = inspect.signature(model.save_pretrained).parameters
    return {"safe_serialization": True} if "safe_serialization" in params else {}
