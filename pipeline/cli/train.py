"""``kiemtin train``: train a model from a corpus and write its directory.

The options become a ``TrainOptions`` (checked when it is made), which also gives the
command recorded in the model's config.json: the one that rebuilds it.
"""

from __future__ import annotations

import shlex
from contextlib import nullcontext
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import InputError
from ..model import DEFAULT_MODELS_ROOT
from .options import Parents, count, positive_float
from .store_access import cli_actor, open_store

# The transformer family's options (attribute: how it is written on the command line).
_TRANSFORMER_OPTIONS = {
    "base_model": "--base-model",
    "segmented_input": "--segmented-input/--raw-input",
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "learning_rate": "--learning-rate",
    "max_length": "--max-length",
    "max_steps": "--max-steps",
    "eval_steps": "--eval-steps",
    "base_model_licence": "--base-model-licence",
    "work_dir": "--work-dir",
}
# The neural family takes these of them (and --seed).
_NEURAL_OPTIONS = ("epochs", "batch_size", "learning_rate")


@dataclass(frozen=True)
class TrainOptions:
    """What ``kiemtin train`` was asked for; ``None`` means the option was not given."""

    task: str
    corpus: Path
    models_root: Path = DEFAULT_MODELS_ROOT
    name: str | None = None
    version: str | None = None
    promote: bool | None = None
    reviews: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    id_column: str | None = None
    C: float | None = None
    content_features: bool = False
    diacritic_free_copies: bool = False
    span_supervision: Path | None = None
    seed: int | None = None
    family: str = "linear"
    base_model: str | None = None
    segmented_input: bool | None = None
    epochs: float | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    max_length: int | None = None
    max_steps: int | None = None
    eval_steps: int | None = None
    base_model_licence: str | None = None
    work_dir: Path | None = None
    resume: bool = False
    workers: int = 0

    @classmethod
    def from_args(cls, args) -> TrainOptions:
        return cls(**{field.name: getattr(args, field.name) for field in fields(cls)})

    def __post_init__(self) -> None:
        """Refuse options of another family, and a transformer without its base model."""
        for flag, given in (
            ("--content-features", self.content_features),
            ("--diacritic-free-copies", self.diacritic_free_copies),
        ):
            if given and self.family != "linear":
                raise InputError(
                    flag,
                    expected=f"{flag} only with the linear family",
                    found=f"{flag} with --family {self.family}",
                    fix=f"Leave {flag} out, or train the linear family.",
                )
        if self.family == "neural":
            self._check_neural()
            return
        if self.family == "ensemble":
            stray = [_TRANSFORMER_OPTIONS[k] for k in self._transformer_options_given()]
            stray += ["--resume"] if self.resume else []
            stray += ["--C"] if self.C is not None else []
            if stray:
                raise InputError(
                    "train options",
                    expected="only --seed with --family ensemble (its members keep their "
                    "defaults)",
                    found=", ".join(stray),
                    fix="Leave those options out, or train that family on its own.",
                )
            return
        if self.family == "linear":
            stray = [_TRANSFORMER_OPTIONS[k] for k in self._transformer_options_given()]
            stray += ["--resume"] if self.resume else []
            if stray:
                raise InputError(
                    "train options",
                    expected="transformer options only with --family transformer",
                    found=f"{', '.join(stray)} with the linear family",
                    fix="Add --family transformer, or leave those options out.",
                )
            return
        if self.C is not None:
            raise InputError(
                "--C",
                expected="--C only with the linear family",
                found="--C with --family transformer",
                fix="Leave --C out; the transformer family takes --learning-rate, --epochs, ...",
            )
        if self.base_model is None:
            raise InputError(
                "--family transformer",
                expected="--base-model: a local encoder directory or a hub id",
                found="no --base-model",
                fix="Add e.g. --base-model vinai/phobert-base-v2 (segmented input) or "
                "--base-model FacebookAI/xlm-roberta-base --raw-input.",
            )

    def _check_neural(self) -> None:
        stray = [
            _TRANSFORMER_OPTIONS[k]
            for k in self._transformer_options_given()
            if k not in _NEURAL_OPTIONS
        ]
        stray += ["--resume"] if self.resume else []
        stray += ["--C"] if self.C is not None else []
        if stray:
            raise InputError(
                "train options",
                expected="only --epochs, --batch-size, --learning-rate and --seed",
                found=", ".join(stray),
                fix="Leave those options out; they belong to the linear or transformer family.",
            )
        if self.epochs is not None and self.epochs != int(self.epochs):
            raise InputError(
                "--epochs",
                expected="a whole number of epochs with --family neural",
                found=str(self.epochs),
                fix="Pass e.g. --epochs 6.",
            )

    def _transformer_options_given(self) -> dict:
        return {k: getattr(self, k) for k in _TRANSFORMER_OPTIONS if getattr(self, k) is not None}

    def corpus_options(self) -> dict:
        """The column options of a generic corpus that were given."""
        columns = {
            "text_column": self.text_column,
            "label_column": self.label_column,
            "id_column": self.id_column,
        }
        return {k: v for k, v in columns.items() if v}

    def hyperparameters(self) -> dict:
        """The scorer's hyper-parameters."""
        if self.family == "linear":
            hyperparameters = {"C": 4.0 if self.C is None else self.C}
            if self.seed is not None:
                hyperparameters["random_state"] = self.seed
            if self.content_features:
                hyperparameters["content_features"] = True
            if self.diacritic_free_copies:
                hyperparameters["diacritic_free_copies"] = True
            return hyperparameters
        if self.family == "ensemble":
            return {} if self.seed is None else {"seed": self.seed}
        given = self._transformer_options_given()
        given.pop("work_dir", None)
        if self.family == "neural":
            given = {k: v for k, v in given.items() if k in _NEURAL_OPTIONS}
            if "epochs" in given:
                given["epochs"] = int(given["epochs"])
        if self.seed is not None:
            given["seed"] = self.seed
        return given

    def family_options(self) -> dict:
        """How the transformer family fits (resume, work directory); none for the others."""
        if self.family != "transformer":
            return {}
        options: dict = {"resume": self.resume}
        if self.work_dir is not None:
            options["work_dir"] = self.work_dir
        return options

    def reproduce_command(self) -> str:
        """The train command with only the options that shape the model (not where it goes
        or how many processes build it), so a rebuild elsewhere writes the same bytes."""
        from ..training.merge_reviews import describe_source

        words = ["python", "train.py", "--task", self.task, "--corpus", str(self.corpus)]
        for option, value, default in (
            ("--family", self.family, "linear"),
            ("--name", self.name, self.family),
            ("--version", self.version, None),
            ("--reviews", self.reviews and describe_source(self.reviews), None),
            ("--span-supervision", self.span_supervision, None),
            ("--text-column", self.text_column, None),
            ("--label-column", self.label_column, None),
            ("--id-column", self.id_column, None),
            ("--C", self.C, 4.0),
            ("--seed", self.seed, None),
            ("--base-model", self.base_model, None),
            ("--epochs", self.epochs, None),
            ("--batch-size", self.batch_size, None),
            ("--learning-rate", self.learning_rate, None),
            ("--max-length", self.max_length, None),
            ("--max-steps", self.max_steps, None),
            ("--eval-steps", self.eval_steps, None),
            ("--base-model-licence", self.base_model_licence, None),
        ):
            if value is not None and value != default:
                words += [option, str(value)]
        if self.segmented_input is False:
            words.append("--raw-input")
        if self.content_features:
            words.append("--content-features")
        if self.diacritic_free_copies:
            words.append("--diacritic-free-copies")
        return shlex.join(words)


def add_parser(subparsers, parents: Parents) -> None:
    t = subparsers.add_parser(
        "train",
        parents=parents.with_models_root,
        help="train a model from a corpus and write its directory",
        description="Fit on the corpus's train (+dev) split, evaluate on its "
        "fixed test split, write models/<task>/<name>-<version>/.",
    )
    t.add_argument("--task", required=True, help="hostile, false, or a task .json file")
    t.add_argument(
        "--corpus",
        required=True,
        type=Path,
        help="corpus directory (ViHSD, ReINTEL, or train/dev/test files) or file",
    )
    t.add_argument("--name", help="model name (default: the family, linear or transformer)")
    t.add_argument("--version", help="version (default: the next free number)")
    promote = t.add_mutually_exclusive_group()
    promote.add_argument(
        "--promote", action="store_true", default=None, help="make it the task's CURRENT model"
    )
    promote.add_argument(
        "--no-promote",
        dest="promote",
        action="store_false",
        help="never change CURRENT (default: promote only the first model)",
    )
    t.add_argument(
        "--reviews",
        help="merge reviewed labels: a `kiemtin labels export` file or a database URL",
    )
    t.add_argument("--text-column", help="text column of a generic corpus")
    t.add_argument("--label-column", help="label column of a generic corpus")
    t.add_argument("--id-column", help="id column of a generic corpus")
    t.add_argument(
        "--C",
        type=positive_float,
        dest="C",
        help="linear family: inverse regularisation strength (default: 4.0)",
    )
    t.add_argument(
        "--content-features",
        action="store_true",
        help="linear family: also learn from each post's engagement counts, posting hour "
        "and links (the task's content_columns; never author fields)",
    )
    t.add_argument(
        "--diacritic-free-copies",
        action="store_true",
        help="linear family: also learn each post typed without Vietnamese marks (half "
        "weight each), so that 'may oc cho' scores like 'mày óc chó'",
    )
    t.add_argument(
        "--seed",
        type=count(0),
        help="random seed (linear: its folds; transformer, neural: everything; default: 0)",
    )
    t.add_argument(
        "--family",
        choices=("linear", "transformer", "neural", "ensemble"),
        default="linear",
        help="model family (default: linear); transformer fine-tunes --base-model; neural "
        "trains a small CNN from scratch (needs torch); ensemble mixes a linear and a neural "
        "model with weights fitted on the dev set",
    )
    t.add_argument(
        "--span-supervision",
        type=Path,
        metavar="VIHOS_DIR",
        help="hostile task: also learn from the spans ViHOS marks in training comments (one "
        "extra example per comment; comments of the test split left out)",
    )
    tr = t.add_argument_group("transformer family (needs the `transformer` extra)")
    tr.add_argument(
        "--base-model",
        metavar="PATH_OR_HUB_ID",
        help="encoder to fine-tune: a local directory, or a hub id such as "
        "vinai/phobert-base-v2 (downloads need a network)",
    )
    fed = tr.add_mutually_exclusive_group()
    fed.add_argument(
        "--segmented-input",
        dest="segmented_input",
        action="store_true",
        default=None,
        help="feed word-segmented text, syllables joined by _ (PhoBERT; the default)",
    )
    fed.add_argument(
        "--raw-input",
        dest="segmented_input",
        action="store_false",
        help="feed the normalised text unsegmented (XLM-R, ViSoBERT)",
    )
    tr.add_argument(
        "--epochs",
        type=positive_float,
        help="training epochs (default: 4; neural: at most 4, early stopping)",
    )
    tr.add_argument(
        "--batch-size",
        type=count(1),
        help="training batch size (default: transformer 16, neural 64)",
    )
    tr.add_argument(
        "--learning-rate",
        type=positive_float,
        help="peak learning rate (default: transformer 3e-05; neural 0.002, dense layers)",
    )
    tr.add_argument("--max-length", type=count(8), help="tokens per post (default: 128)")
    tr.add_argument(
        "--max-steps", type=count(1), help="stop after N optimiser steps (overrides --epochs)"
    )
    tr.add_argument(
        "--eval-steps",
        type=count(1),
        help="score the dev set (early stopping, checkpoints) every N steps (default: each epoch)",
    )
    tr.add_argument(
        "--base-model-licence",
        metavar="TERMS",
        help="the base model's licence terms, recorded in config.json and the card "
        "(default: known for PhoBERT, ViSoBERT, XLM-R; else unknown)",
    )
    tr.add_argument(
        "--work-dir",
        type=Path,
        help="where checkpoints go (default: out/train/<task>-<name>)",
    )
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue from the last checkpoint in --work-dir",
    )
    t.add_argument(
        "--workers",
        type=count(0),
        default=0,
        help="processes for word segmentation (default 0: one per core)",
    )


def handle(args) -> int:
    from ..training.train import train_model

    options = TrainOptions.from_args(args)
    # --promote goes through the registry as `models promote` does: gate, history, audit row.
    with open_store()[2]() if options.promote else nullcontext() as session:
        result = train_model(
            options.task,
            options.corpus,
            models_root=options.models_root,
            name=options.name,
            version=options.version,
            promote=options.promote,
            workers=options.workers,
            corpus_options=options.corpus_options(),
            hyperparameters=options.hyperparameters(),
            command=options.reproduce_command(),
            reviews=options.reviews,
            span_supervision=options.span_supervision,
            family=options.family,
            family_options=options.family_options(),
            actor=cli_actor(),
            audit_session=session,
        )
    print(result.corpus_summary)
    for name, m in result.metrics["test_sets"].items():
        print(
            f"{name}: n={m['n']} macro-F1={m['macro_f1']} ROC-AUC(risk)={m['roc_auc_risk']} "
            f"ECE={m['ece']}"
        )
    state = "now CURRENT" if result.became_current else "CURRENT unchanged"
    print(f"wrote {result.model_dir} ({state})")
    return 0
