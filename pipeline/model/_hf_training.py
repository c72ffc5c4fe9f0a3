"""Fine-tuning a transformer scorer's encoder with the Hugging Face ``Trainer``.

Cross-entropy weighted per label against class imbalance, evaluation on the dev set every
``eval_steps`` (default once per epoch) with early stopping on its macro-F1 and the best
checkpoint restored at the end, checkpoints under a work directory that a later run resumes
from, a fixed seed, and bf16 (fp16 where bf16 is not supported) only on CUDA; CPU otherwise.
Calibration and everything after training stay with
:class:`~pipeline.model.transformer.TransformerScorer`.

torch and transformers are imported only when :func:`fine_tune` runs.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import f1_score

from ..errors import InputError

if TYPE_CHECKING:
    from .transformer import TransformerScorer

log = logging.getLogger("pipeline.model.transformer")  # progress under the family's logger


@dataclass(frozen=True)
class FineTuned:
    """The best checkpoint's model (fp32, eval mode), its tokenizer and the training log."""

    model: Any
    tokenizer: Any
    training_log: dict


def last_checkpoint(work_dir: str | Path) -> str:
    """The Trainer checkpoint ``--resume`` continues from: the highest ``checkpoint-<step>``
    in ``work_dir`` with its ``trainer_state.json``; refused when there is none."""
    found = [
        (int(d.name.split("-")[1]), d)
        for d in Path(work_dir).glob("checkpoint-*")
        if re.fullmatch(r"checkpoint-\d+", d.name) and (d / "trainer_state.json").is_file()
    ]
    if not found:
        raise InputError(
            f"--resume from {work_dir}",
            expected="a checkpoint-<step> directory written by an earlier run",
            found="no checkpoint" if Path(work_dir).is_dir() else "no such directory",
            fix="Train without --resume, or pass the --work-dir of the interrupted run.",
        )
    return str(max(found)[1])

def fine_tune(
    scorer: TransformerScorer,
    texts: list[str],
    y: np.ndarray,
    dev_texts: list[str],
    y_dev: np.ndarray,
    work_dir: Path,
    checkpoint: str | None,
) -> FineTuned:
    """Fine-tune ``scorer.base_model`` on the encoder inputs ``texts`` (label ids ``y``) with
    the scorer's hyper-parameters, scored and stopped on ``dev_texts``; ``checkpoint`` (a
    directory in ``work_dir``) is resumed from when given."""
    import torch
    import transformers
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        EarlyStoppingCallback,
        TrainingArguments,
    )
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    classes = scorer.classes_
    k = len(classes)
    transformers.set_seed(scorer.seed)
    tokenizer = AutoTokenizer.from_pretrained(scorer.base_model)
    model = AutoModelForSequenceClassification.from_pretrained(
        scorer.base_model,
        num_labels=k,
        id2label=dict(enumerate(classes)),
        label2id={c: i for i, c in enumerate(classes)},
        problem_type="single_label_classification",
        ignore_mismatched_sizes=True,
    )

    def dataset(items: list[str], ids: np.ndarray) -> list[dict]:
        enc = tokenizer(items, truncation=True, max_length=scorer.max_length)
        keys = list(enc.keys())
        return [
            {**{key: enc[key][i] for key in keys}, "labels": int(ids[i])}
            for i in range(len(items))
        ]

    train_set, dev_set = dataset(texts, y), dataset(dev_texts, y_dev)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    if scorer.class_weight == "balanced":
        weights = np.where(counts > 0, len(y) / (k * np.maximum(counts, 1)), 0.0)
    else:
        weights = np.ones(k)

    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    steps_per_epoch = math.ceil(len(train_set) / scorer.batch_size)
    total = scorer.max_steps or math.ceil(scorer.epochs * steps_per_epoch)
    eval_steps = scorer.eval_steps or steps_per_epoch
    args = TrainingArguments(
        output_dir=str(work_dir),
        per_device_train_batch_size=scorer.batch_size,
        per_device_eval_batch_size=scorer.batch_size * 2,
        num_train_epochs=scorer.epochs,
        max_steps=scorer.max_steps or -1,
        learning_rate=scorer.learning_rate,
        weight_decay=scorer.weight_decay,
        warmup_steps=math.ceil(scorer.warmup_ratio * total),
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=max(1, eval_steps // 5),
        logging_first_step=True,
        seed=scorer.seed,
        data_seed=scorer.seed,
        use_cpu=not cuda,
        bf16=bf16,
        fp16=cuda and not bf16,
        dataloader_pin_memory=cuda,
        report_to="none",
        disable_tqdm=True,
    )
    trainer = _weighted_trainer_class()(
        class_weights=torch.tensor(weights, dtype=torch.float32),
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=dev_set,
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=_dev_metrics(k),
        callbacks=[EarlyStoppingCallback(scorer.early_stopping_patience), _log_callback()],
    )
    # Library code does not print: progress goes to logging (`kiemtin -v`).
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    log.info(
        "fine-tuning %s on %d texts (dev %d), %d steps, %s",
        scorer.base_model, len(train_set), len(dev_set), total,
        "bf16" if bf16 else "fp16" if cuda else "CPU",
    )
    trainer.train(resume_from_checkpoint=checkpoint)
    return FineTuned(
        trainer.model.float().eval(), tokenizer, _training_log(trainer.state, checkpoint)
    )


def _training_log(state, resumed_from: str | None) -> dict:
    """The Trainer's history, reduced to what the model card and tests read."""
    history = state.log_history
    best = state.best_model_checkpoint
    return {
        "global_step": int(state.global_step),
        "resumed_from_step": _step_of(resumed_from),
        "best_step": _step_of(best),
        "best_dev_macro_f1": None if state.best_metric is None else round(state.best_metric, 4),
        "loss": [[int(h["step"]), round(float(h["loss"]), 4)] for h in history if "loss" in h],
        "dev_macro_f1": [
            [int(h["step"]), round(float(h["eval_macro_f1"]), 4)]
            for h in history
            if "eval_macro_f1" in h
        ],
    }


def _step_of(checkpoint: str | None) -> int | None:
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else None


def _dev_metrics(k: int):
    def compute(eval_pred) -> dict:
        logits, y = eval_pred.predictions, eval_pred.label_ids
        predicted = np.argmax(logits, axis=1)
        return {"macro_f1": float(f1_score(y, predicted, average="macro", labels=range(k)))}

    return compute


@functools.cache
def _weighted_trainer_class():
    import torch
    from transformers import Trainer

    class WeightedTrainer(Trainer):
        """Cross-entropy weighted per label (against class imbalance)."""

        def __init__(self, *args, class_weights, **kwargs):
            super().__init__(*args, **kwargs)
            self.class_weights = class_weights

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            logits = outputs.logits.float()
            loss = torch.nn.functional.cross_entropy(
                logits, labels, weight=self.class_weights.to(logits.device)
            )
            return (loss, outputs) if return_outputs else loss

    return WeightedTrainer


def _log_callback():
    from transformers import TrainerCallback

    class LogCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                shown = ", ".join(
                    f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in logs.items()
                )
                log.info("step %d/%d: %s", state.global_step, state.max_steps, shown)

    return LogCallback()
