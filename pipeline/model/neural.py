"""The ``neural`` family: a small CNN over hashed subword word vectors, trained from scratch.

Each segmented word becomes the mean of hashed embeddings of its parts, fastText style: the
word itself, its syllables, its character 2–5-grams (lower-cased, diacritics kept, with
``<`` ``>`` boundary marks) and its diacritics-folded form, so a word typed without marks
(``oc cho``) still meets its marked form. Parts are hashed with CRC-32 into ``buckets``
rows, so there is no vocabulary file, and a word never seen in training still has a
vector. Over the word vectors, one 1-D convolution per width in ``widths`` (``channels``
filters each), max-pooled over the post and passed through a ReLU, then dropout and a
linear head.

Trained with torch (the ``transformer`` extra) on CPU: Adam on the embeddings (sparse
rows), AdamW on the rest, cross-entropy with optional class weights, early stopping on the
dev set's macro-F1 after calibration. Deterministic given ``seed`` and ``threads``.
Scoring needs no torch: the forward pass is a few numpy matrix products, and a loaded model
scores wherever kiemtin runs.

Probabilities are ``softmax(logits / T + b)`` fitted on the dev logits of the model as
saved (embeddings stored as int8 with a float16 scale per row: half the bytes of float16,
scores within 1e-3), and labels come from calibrated probabilities times
per-label weights chosen there for macro-F1, as in the linear family.

Explanations are gradient × input at the word vectors, computed in closed form: with ReLU
and max-pooling the network is piecewise linear, so the push of a post towards its most
likely risky label (against the mean of all labels, on the calibrated scale) splits
exactly into one part per word plus the filters' biases. Only words with a positive push
are returned, located in the original text.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file
from sklearn.metrics import f1_score

from ..errors import InputError
from ..tasks import Task
from ..text.diacritics import strip_marks
from ..text.prepare import PREPROCESSING, Prepared, as_prepared
from .base import Scorer, Word, top_words_batch
from .calibration import calibrated_proba, fit_decision_weights, fit_temperature_and_bias
from .transformer import EXTRA_FIX, fit_and_dev_sets

log = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.safetensors"
# The embeddings in a weights file: int8 and a scale per row, or float16 (saved before int8).
_STORED_EMBEDDING = ("embedding.int8", "embedding.scale", "embedding")
CHUNK_DOCS = 4096  # posts scored together; bounds the memory of one batch
GROUP_CELLS = 8192  # words (with padding) of one dense group of posts of similar length
GROUP_MIN = 16  # posts in a group, however long
CACHE_MAX_WORDS = 200_000  # the word-vector cache starts afresh past this many words
MAX_CHAR_WORD = 40  # longer words (links, runs of symbols) get no character n-grams
_FOLD = str.maketrans({"đ": "d", "Đ": "d"})


def require_torch(needed: str):
    """Import torch, or say how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise InputError(
            f"{needed} needs torch",
            expected="the `transformer` extra installed",
            found=f"ImportError: {exc}",
            fix=EXTRA_FIX + " (scoring a trained neural model needs only numpy).",
        ) from exc
    return torch


def fold(word: str) -> str:
    """A word without its Vietnamese marks.

    >>> fold("đm_óc_chó")
    'dm_oc_cho'
    """
    return strip_marks(word.translate(_FOLD))


def word_parts(word: str, char_ngrams: tuple[int, int] = (2, 5), folded: bool = True) -> list[str]:
    """The hashed parts of one lower-cased segmented word, each tagged by its kind.

    >>> word_parts("óc_chó", (3, 3))
    ['w óc_chó', 's óc', 's chó', 'f oc_cho', 'g oc', 'g cho', 'c <óc', 'c óc_', 'c c_c', \
'c _ch', 'c chó', 'c hó>']
    """
    parts = ["w " + word]
    syllables = word.split("_")
    if len(syllables) > 1:
        parts += ["s " + s for s in syllables if s]
    if folded:
        plain = fold(word)
        if plain != word:
            parts.append("f " + plain)
            if len(syllables) > 1:
                parts += ["g " + s for s in plain.split("_") if s]
    if len(word) <= MAX_CHAR_WORD:
        padded = f"<{word}>"
        lo, hi = char_ngrams
        for n in range(lo, hi + 1):
            parts += ["c " + padded[i : i + n] for i in range(len(padded) - n + 1)]
    return parts


def part_ids(word: str, buckets: int, char_ngrams: tuple[int, int], folded: bool) -> list[int]:
    """Bucket of each part of ``word``: CRC-32 of its UTF-8 bytes modulo ``buckets`` (fixed
    across runs and machines, unlike Python's ``hash``)."""
    return [zlib.crc32(p.encode("utf-8")) % buckets for p in word_parts(word, char_ngrams, folded)]


def _tokens(p: Prepared, max_words: int) -> list[str]:
    return [w.lower() for w in p.segmented.words[:max_words]]


class NeuralScorer(Scorer):
    """A CNN over hashed subword word vectors, with a calibrated softmax.

    Parameters are stored as given; learned state ends in ``_``. ``buckets`` rows of
    ``dim``-wide embeddings (stored as int8, a scale per row) hold the hashed word parts: the
    word, its syllables, ``char_ngrams`` and, with ``folded``, its diacritics-folded form.
    ``widths`` are the convolution widths in words, ``channels`` the filters of each,
    ``dropout`` the dropout of the pooled features, ``word_dropout`` the share of words left
    out of each training post (each epoch anew). ``epochs`` is the most epochs,
    ``patience`` the epochs without a better dev macro-F1 before stopping;
    ``batch_size``, ``learning_rate`` (dense layers, AdamW), ``embedding_learning_rate``
    (sparse Adam) and ``weight_decay`` drive the optimisers; with ``lr_decay`` both rates
    fall linearly to zero over ``epochs``. ``class_weight="balanced"`` weights the loss by
    ``n / (labels * count)``; ``None`` leaves it unweighted.
    ``max_words`` caps the words read per post; ``dev_fraction`` of the training texts is
    held out when ``fit`` gets no dev set; ``threads`` is torch's thread count while
    fitting (fixed, so that a refit gives the same numbers).
    """

    family = "neural"
    files = (WEIGHTS_FILE,)

    def __init__(
        self,
        task: Task,
        buckets: int = 2**18,
        dim: int = 64,
        char_ngrams: tuple[int, int] = (2, 5),
        folded: bool = True,
        widths: tuple[int, ...] = (1, 2, 3),
        channels: int = 128,
        dropout: float = 0.3,
        word_dropout: float = 0.2,
        epochs: int = 4,
        patience: int = 2,
        batch_size: int = 64,
        learning_rate: float = 2e-3,
        embedding_learning_rate: float = 1e-2,
        weight_decay: float = 1e-4,
        lr_decay: bool = True,
        class_weight: str | None = None,
        max_words: int = 256,
        dev_fraction: float = 0.1,
        seed: int = 0,
        threads: int = 1,
    ):
        self.task = task
        self.buckets = buckets
        self.dim = dim
        self.char_ngrams = char_ngrams
        self.folded = folded
        self.widths = widths
        self.channels = channels
        self.dropout = dropout
        self.word_dropout = word_dropout
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.embedding_learning_rate = embedding_learning_rate
        self.weight_decay = weight_decay
        self.lr_decay = lr_decay
        self.class_weight = class_weight
        self.max_words = max_words
        self.dev_fraction = dev_fraction
        self.seed = seed
        self.threads = threads

    def get_params(self) -> dict:
        params = super().get_params()
        return {**params, "char_ngrams": list(self.char_ngrams), "widths": list(self.widths)}

    # -- fit -------------------------------------------------------------------------------

    def fit(
        self,
        texts: Sequence[str] | Sequence[Prepared],
        labels: Sequence[str],
        *,
        dev: tuple[Sequence[str] | Sequence[Prepared], Sequence[str]] | None = None,
    ) -> NeuralScorer:
        """Train on ``texts``; early stopping and calibration use ``dev`` (texts, labels), or
        a held-out ``dev_fraction`` of ``texts`` when it is None."""
        torch = require_torch("Training a neural model")
        prepared, y, dev_prepared, y_dev = fit_and_dev_sets(self, texts, labels, dev)
        self.classes_ = list(self.task.labels)
        threads = torch.get_num_threads()
        deterministic = torch.are_deterministic_algorithms_enabled()
        torch.set_num_threads(self.threads)
        torch.use_deterministic_algorithms(True)
        try:
            self._train(torch, prepared, y, dev_prepared, y_dev)
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)
        return self

    def _train(self, torch, prepared, y, dev_prepared, y_dev) -> None:
        started = time.perf_counter()
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        data = _Corpus(self, prepared + dev_prepared)
        train_docs, dev_docs = np.arange(len(prepared)), np.arange(len(prepared), data.n_docs)
        net = _network(torch, self)
        dense = [p for name, p in net.named_parameters() if not name.startswith("embedding")]
        optimisers = [
            torch.optim.SparseAdam(net.embedding.parameters(), lr=self.embedding_learning_rate),
            torch.optim.AdamW(dense, lr=self.learning_rate, weight_decay=self.weight_decay),
        ]
        weight = None
        if self.class_weight == "balanced":
            counts = np.bincount(y, minlength=len(self.classes_)).astype(np.float64)
            weight = torch.tensor(
                len(y) / (len(self.classes_) * np.maximum(counts, 1)), dtype=torch.float32
            )
        loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
        steps = self.epochs * -(-len(train_docs) // self.batch_size)
        schedules = [
            torch.optim.lr_scheduler.LambdaLR(
                opt, lambda step: max(0.0, 1 - step / steps) if self.lr_decay else 1.0
            )
            for opt in optimisers
        ]
        y_t = torch.from_numpy(y)

        history, best, best_state, waited = [], -1.0, None, 0
        for epoch in range(1, self.epochs + 1):
            net.train()
            total = 0.0
            order = rng.permutation(train_docs)
            for lo in range(0, len(order), self.batch_size):
                batch = order[lo : lo + self.batch_size]
                logits = net(*data.batch(torch, batch))
                loss = loss_fn(logits, y_t[batch])
                for opt in optimisers:
                    opt.zero_grad()
                loss.backward()
                for opt, schedule in zip(optimisers, schedules, strict=True):
                    opt.step()
                    schedule.step()
                total += float(loss.detach()) * len(batch)
            dev_logits = _torch_logits(torch, net, data, dev_docs, self.batch_size * 4)
            f1, log_loss = _dev_scores(dev_logits, y_dev)
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": round(total / len(order), 5),
                    "dev_macro_f1": f1,
                    "dev_log_loss": log_loss,
                }
            )
            log.info("epoch %d: train loss %.4f, dev macro-F1 %.4f", epoch, total / len(order), f1)
            if f1 > best + 1e-9:
                best, best_state, waited = f1, copy.deepcopy(net.state_dict()), 0
            else:
                waited += 1
                if waited >= self.patience:
                    break
        net.load_state_dict(best_state)
        self._set_weights({k: v.detach().cpu().numpy() for k, v in net.state_dict().items()})

        # Calibrate the model as it is saved: int8 embeddings, numpy forward pass.
        dev_logits = self._logits(dev_prepared)
        self.temperature_, self.bias_ = fit_temperature_and_bias(dev_logits, y_dev)
        self.decision_weights_ = fit_decision_weights(
            calibrated_proba(dev_logits, self.temperature_, self.bias_), y_dev
        )
        self.n_dev_ = len(y_dev)
        best_epoch = max(history, key=lambda h: (h["dev_macro_f1"], -h["epoch"]))["epoch"]
        self.training_log_ = {
            "epochs": history,
            "best_epoch": best_epoch,
            "best_dev_macro_f1": best,
            "seconds": round(time.perf_counter() - started, 1),
        }

    def _set_weights(self, state: dict) -> None:
        """Learned arrays from a torch state dict (or a weights file)."""
        # Kept as stored, so a save writes the same bytes and a reload scores the same.
        stored = {k: state[k] for k in _STORED_EMBEDDING if k in state}
        if not stored:  # from training: as it will be saved
            quantised, scale = _quantised(state["embedding.weight"])
            stored = {"embedding.int8": quantised, "embedding.scale": scale}
        self.stored_embedding_ = stored
        if "embedding" in stored:  # a file saved before int8, scored as it was
            self.embedding_ = np.asarray(stored["embedding"], dtype=np.float16)
        else:
            self.embedding_ = _dequantised(stored["embedding.int8"], stored["embedding.scale"])
        self.conv_weights_ = [
            np.asarray(state[f"convs.{i}.weight"], dtype=np.float32)
            for i in range(len(self.widths))
        ]
        self.conv_biases_ = [
            np.asarray(state[f"convs.{i}.bias"], dtype=np.float32) for i in range(len(self.widths))
        ]
        self.head_weight_ = np.asarray(state["head.weight"], dtype=np.float32)
        self.head_bias_ = np.asarray(state["head.bias"], dtype=np.float32)
        self._prepare_inference()

    def _prepare_inference(self) -> None:
        # Conv1d weights (C, d, k) laid out as one (d, sum(widths) * C) matrix: a column block
        # per width and offset o projects the word at offset o of a window.
        self._projection = np.ascontiguousarray(
            np.concatenate([w[:, :, o].T for w in self.conv_weights_ for o in range(w.shape[2])], 1)
        )
        self._vectors = _WordVectors(self)

    # -- scoring ---------------------------------------------------------------------------

    def _logits(self, prepared: list[Prepared]) -> np.ndarray:
        out = [np.zeros((0, len(self.classes_)))]
        for lo in range(0, len(prepared), CHUNK_DOCS):
            out.append(self._forward(prepared[lo : lo + CHUNK_DOCS], explain=False).logits)
        return np.concatenate(out)

    def _forward(self, prepared: list[Prepared], explain: bool = True) -> _Forward:
        return _Forward(self, [_tokens(p, self.max_words) for p in prepared], explain)

    def predict_proba(self, texts: Sequence[str] | Sequence[Prepared]) -> np.ndarray:
        prepared = as_prepared(texts)
        return calibrated_proba(self._logits(prepared), self.temperature_, self.bias_)

    def explain(
        self,
        texts: Sequence[str] | Sequence[Prepared],
        top_k: int = 5,
        proba: np.ndarray | None = None,
    ) -> list[list[Word]]:
        """Words that pushed each post towards its most likely risky label, strongest first.

        A word's weight is its gradient × input share of that label's calibrated log-odds
        against the average label (exact: the network is piecewise linear); only words with
        a positive push are returned. ``proba`` saves recomputing probabilities.
        """
        prepared = as_prepared(texts)
        if proba is None:
            return self.predict_and_explain(prepared, top_k)[1]
        proba = np.asarray(proba)
        if len(proba) != len(prepared):
            raise ValueError(f"{len(prepared)} texts but {len(proba)} rows of proba")
        words: list[list[Word]] = []
        for lo in range(0, len(prepared), CHUNK_DOCS):
            chunk = prepared[lo : lo + CHUNK_DOCS]
            words += self._explain_forward(
                chunk, self._forward(chunk), proba[lo : lo + CHUNK_DOCS], top_k
            )
        return words

    def predict_and_explain(
        self, texts: Sequence[str] | Sequence[Prepared], top_k: int = 5
    ) -> tuple[np.ndarray, list[list[Word]]]:
        """``predict_proba`` and ``explain`` from one forward pass."""
        prepared = as_prepared(texts)
        probas = [np.zeros((0, len(self.classes_)))]
        words: list[list[Word]] = []
        for lo in range(0, len(prepared), CHUNK_DOCS):
            chunk = prepared[lo : lo + CHUNK_DOCS]
            forward = self._forward(chunk)
            proba = calibrated_proba(forward.logits, self.temperature_, self.bias_)
            probas.append(proba)
            words += self._explain_forward(chunk, forward, proba, top_k)
        return np.concatenate(probas), words

    def _explain_forward(
        self, prepared: list[Prepared], forward: _Forward, proba: np.ndarray, top_k: int
    ) -> list[list[Word]]:
        if not prepared:
            return []
        if top_k == 0:
            return [[] for _ in prepared]
        risky = np.array([self.classes_.index(r) for r in self.task.risk_labels])
        target = risky[np.argmax(proba[:, risky], axis=1)]
        directions = (self.head_weight_ - self.head_weight_.mean(axis=0)) / self.temperature_
        parts, offsets = forward.word_parts(directions[target])
        return top_words_batch(prepared, parts, offsets, top_k)

    # -- files -----------------------------------------------------------------------------

    def save(self, directory: Path) -> dict:
        """Write the weights; return the config fields this family owns."""
        arrays = {
            **self.stored_embedding_,
            **{f"conv{i}.weight": w for i, w in enumerate(self.conv_weights_)},
            **{f"conv{i}.bias": b for i, b in enumerate(self.conv_biases_)},
            "head.weight": self.head_weight_,
            "head.bias": self.head_bias_,
            "bias": self.bias_,
            "decision_weights": self.decision_weights_,
        }
        save_file(
            {k: np.ascontiguousarray(v) for k, v in arrays.items()},
            Path(directory) / WEIGHTS_FILE,
        )
        return {
            "family": self.family,
            "hyperparameters": self.get_params(),
            "calibration": {
                "method": "temperature+bias",
                "fitted_on": f"dev logits of the saved model ({self.n_dev_} texts)",
                "temperature": self.temperature_,
                "n_dev": self.n_dev_,
            },
            "training_log": self.training_log_,
            **PREPROCESSING,
        }

    @classmethod
    def load(cls, directory: Path, config: dict, task: Task) -> NeuralScorer:
        params = dict(config["hyperparameters"])
        params["char_ngrams"] = tuple(params["char_ngrams"])
        params["widths"] = tuple(params["widths"])
        self = cls(task, **params)
        self.classes_ = list(task.labels)
        arrays = load_file(Path(directory) / WEIGHTS_FILE)
        self._check_shapes(arrays)
        self._set_weights(
            {
                **{k: arrays[k] for k in _STORED_EMBEDDING if k in arrays},
                **{f"convs.{i}.weight": arrays[f"conv{i}.weight"] for i in range(len(self.widths))},
                **{f"convs.{i}.bias": arrays[f"conv{i}.bias"] for i in range(len(self.widths))},
                "head.weight": arrays["head.weight"],
                "head.bias": arrays["head.bias"],
            }
        )
        self.bias_ = arrays["bias"].astype(np.float64)
        self.decision_weights_ = arrays["decision_weights"].astype(np.float64)
        self.temperature_ = float(config["calibration"]["temperature"])
        self.n_dev_ = int(config["calibration"]["n_dev"])
        self.training_log_ = config.get("training_log", {})
        return self

    def _check_shapes(self, arrays: dict) -> None:
        k, c = len(self.classes_), self.channels
        embedding = (
            {"embedding": (self.buckets, self.dim)}  # float16, as saved before int8
            if "embedding" in arrays
            else {"embedding.int8": (self.buckets, self.dim), "embedding.scale": (self.buckets,)}
        )
        expected = {
            **embedding,
            **{f"conv{i}.weight": (c, self.dim, w) for i, w in enumerate(self.widths)},
            **{f"conv{i}.bias": (c,) for i in range(len(self.widths))},
            "head.weight": (k, c * len(self.widths)),
            "head.bias": (k,),
            "bias": (k,),
            "decision_weights": (k,),
        }
        missing = sorted(set(expected) - set(arrays))
        if missing:
            raise KeyError(f"{WEIGHTS_FILE} lacks {', '.join(missing)}")
        wrong = {
            name: tuple(arrays[name].shape)
            for name, shape in expected.items()
            if tuple(arrays[name].shape) != shape
        }
        if wrong:
            want = {name: expected[name] for name in wrong}
            raise ValueError(f"{WEIGHTS_FILE} has shapes {wrong}; config.json implies {want}")


def _quantised(embedding: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row as int8 and one float16 scale (its largest magnitude / 127): the embeddings
    are most of the file (2**18 rows), and their rounding moves a score by under 1e-3."""
    rows = np.asarray(embedding, dtype=np.float32)
    scale = (np.abs(rows).max(axis=1) / 127).astype(np.float16)
    safe = np.where(scale > 0, scale, 1).astype(np.float32)[:, None]
    return np.clip(np.rint(rows / safe), -127, 127).astype(np.int8), scale


def _dequantised(quantised: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return (quantised.astype(np.float32) * scale.astype(np.float32)[:, None]).astype(np.float16)


class _WordVectors:
    """Each distinct word's vector (mean of its parts' embeddings), cached per model."""

    def __init__(self, scorer: NeuralScorer):
        self.embedding = scorer.embedding_
        self.buckets = scorer.buckets
        self.char_ngrams = tuple(scorer.char_ngrams)
        self.folded = scorer.folded
        self.lock = threading.Lock()
        self.index: dict[str, int] = {}
        self.table = np.zeros((0, scorer.dim), dtype=np.float32)

    def lookup(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The vector table and each token's row in it."""
        with self.lock:
            if len(self.index) > CACHE_MAX_WORDS:
                self.index, self.table = {}, self.table[:0]
            index = self.index
            new = [w for w in dict.fromkeys(tokens) if w not in index]
            if new:
                start = len(index)
                for i, w in enumerate(new):
                    index[w] = start + i
                self.table = np.concatenate([self.table, self.vectors(new)])
            rows = np.fromiter(map(index.__getitem__, tokens), dtype=np.int64, count=len(tokens))
            return self.table, rows

    def vectors(self, words: list[str]) -> np.ndarray:
        """Each word's mean part embedding: a sparse (words × parts) matrix of ones times the
        rows of the parts they use, in float32, over each word's count of parts."""
        ids, offsets = _part_ids(words, self.buckets, self.char_ngrams, self.folded)
        rows, columns = np.unique(ids, return_inverse=True)
        ones = np.ones(len(ids), dtype=np.float32)
        uses = sp.csr_matrix((ones, columns.reshape(-1), offsets), shape=(len(words), len(rows)))
        sums = np.asarray(uses @ self.embedding[rows].astype(np.float32))
        return sums / np.diff(offsets).astype(np.float32)[:, None]


def _part_ids(words, buckets, char_ngrams, folded) -> tuple[np.ndarray, np.ndarray]:
    """The part ids of many words, flat, and where each word's start (``len(words) + 1``
    offsets). Every word has at least one part (itself)."""
    lists = [part_ids(w, buckets, char_ngrams, folded) for w in words]
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in lists], out=offsets[1:])
    ids = np.fromiter((i for x in lists for i in x), dtype=np.int64, count=int(offsets[-1]))
    return ids, offsets


class _Forward:
    """One numpy forward pass over a batch of posts, kept for its explanation.

    Each distinct word's vector is projected once by every filter offset (``x @ W``); a
    window's pre-activation is then a sum of projected rows. Posts are sorted by length
    and taken in groups laid out densely, ``(posts, words + 2 * pad, channels)`` with
    ``pad = max(widths) - 1`` zero words on each side, so that a window of width ``k`` at
    step ``t`` covers words ``t - k + 1 .. t`` as torch's ``Conv1d(padding=k - 1)`` does;
    steps past a post's last window are masked before the max. An empty post has one zero
    word, as in training.
    """

    def __init__(self, scorer: NeuralScorer, tokens: list[list[str]], explain: bool = True):
        self.scorer = scorer
        self.explained = explain
        n_docs = len(tokens)
        self.n_words = np.fromiter(map(len, tokens), dtype=np.int64, count=n_docs)
        self.offsets = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(self.n_words, out=self.offsets[1:])
        flat = [w for doc in tokens for w in doc]
        table, rows = scorer._vectors.lookup(flat)
        distinct, inverse = np.unique(rows, return_inverse=True)
        # each distinct word projected by every filter offset; one more zero row pads
        projection = scorer._projection
        self.projected = np.empty((len(distinct) + 1, projection.shape[1]), dtype=np.float32)
        np.matmul(table[distinct], projection, out=self.projected[:-1])
        self.projected[-1] = 0
        self.inverse = inverse.reshape(-1)  # each word's row in projected; the last row pads
        self.groups = []
        self.logits = np.zeros((n_docs, len(scorer.classes_)))
        order = np.argsort(self.n_words, kind="stable")
        longest = np.maximum(self.n_words[order], 1)  # ascending
        lo = 0
        while lo < n_docs:
            # as many posts as GROUP_CELLS words hold, padded to the longest among them
            guess = GROUP_CELLS // int(longest[lo])
            size = max(GROUP_MIN, GROUP_CELLS // int(longest[min(n_docs, lo + guess) - 1]))
            docs = order[lo : lo + size]
            self.groups.append(self._group(docs, int(longest[min(n_docs, lo + size) - 1])))
            lo += size

    def _group(self, docs: np.ndarray, longest: int) -> _Group:
        scorer, pad = self.scorer, max(self.scorer.widths) - 1
        n_words = self.n_words[docs]
        words = np.full((len(docs), longest + 2 * pad), len(self.projected) - 1, dtype=np.int64)
        doc_of = np.repeat(np.arange(len(docs)), n_words)
        position = _ranges(np.zeros_like(n_words), n_words)
        words[doc_of, pad + position] = self.inverse[_ranges(self.offsets[docs], n_words)]
        lengths = np.maximum(n_words, 1)
        tops, argmaxes, col = [], [], 0
        for width, bias in zip(scorer.widths, scorer.conv_biases_, strict=True):
            c = bias.shape[0]
            steps = longest + width - 1
            y = np.broadcast_to(bias, (len(docs), steps, c)).copy()
            for o in range(width):
                block = self.projected[:, col + o * c : col + (o + 1) * c]
                first = pad - width + 1 + o
                y += block[words[:, first : first + steps]]
            col += width * c
            beyond = np.arange(steps)[None, :] >= (lengths + width - 1)[:, None]
            y[beyond] = -np.inf
            tops.append(y.max(axis=1))
            if self.explained:  # the first step where each filter peaks
                argmaxes.append((y == tops[-1][:, None, :]).argmax(axis=1))
        hidden = np.maximum(np.concatenate(tops, axis=1), 0)
        self.logits[docs] = hidden @ scorer.head_weight_.T + scorer.head_bias_
        return _Group(docs, words, hidden, argmaxes)

    def word_parts(self, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient × input of ``directions`` (one row of head weights per post) at every
        word: the parts, in post order, and each post's offsets into them."""
        if not self.explained:
            raise ValueError("this forward pass was made without explanations")
        scorer, pad = self.scorer, max(self.scorer.widths) - 1
        parts = np.zeros(int(self.offsets[-1]), dtype=np.float64)
        for g in self.groups:
            n_words, n_docs = self.n_words[g.docs], len(g.docs)
            longest = g.words.shape[1] - 2 * pad
            gains = directions[g.docs] * (g.hidden > 0)
            row = np.arange(n_docs)[:, None]
            group_parts = np.zeros(n_docs * longest)
            col, gain_col = 0, 0
            for width, at in zip(scorer.widths, g.argmaxes, strict=True):
                c = at.shape[1]
                gain = gains[:, gain_col : gain_col + c]
                channel = np.arange(c)[None, :]
                for o in range(width):
                    word = at - width + 1 + o  # the word at offset o of each best window
                    inside = (word >= 0) & (word < n_words[:, None])
                    projected = self.projected[g.words[row, word + pad], col + o * c + channel]
                    group_parts += np.bincount(
                        (row * longest + word)[inside],
                        (gain * projected)[inside],
                        minlength=len(group_parts),
                    )
                col += width * c
                gain_col += c
            group_parts = group_parts.reshape(n_docs, longest)
            real = np.arange(longest)[None, :] < n_words[:, None]
            parts[(self.offsets[g.docs][:, None] + np.arange(longest))[real]] = group_parts[real]
        return parts, self.offsets


class _Group:
    """Posts of similar length scored together: their word rows, hidden features and, when
    explaining, the step of each filter's maximum."""

    def __init__(self, docs, words, hidden, argmaxes):
        self.docs, self.words, self.hidden, self.argmaxes = docs, words, hidden, argmaxes


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])``, vectorised."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    shift = np.repeat(starts - (ends - lengths), lengths)
    return np.arange(total, dtype=np.int64) + shift


def _dev_scores(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Dev macro-F1 of the decision rule the model would ship with these logits, and the
    log-loss of its calibrated probabilities."""
    temperature, bias = fit_temperature_and_bias(logits, y)
    proba = calibrated_proba(logits, temperature, bias)
    weights = fit_decision_weights(proba, y)
    pred = np.argmax(proba * weights, axis=1)
    f1 = f1_score(y, pred, average="macro", labels=range(logits.shape[1]))
    log_loss = -np.log(proba[np.arange(len(y)), y] + 1e-12).mean()
    return round(float(f1), 5), round(float(log_loss), 5)


class _Corpus:
    """Training and dev posts as word indices into their distinct words, whose part ids
    are hashed once."""

    def __init__(self, scorer: NeuralScorer, prepared: list[Prepared]):
        tokens = [_tokens(p, scorer.max_words) for p in prepared]
        index: dict[str, int] = {}
        self.docs = [
            np.fromiter((index.setdefault(w, len(index)) for w in doc), dtype=np.int64)
            for doc in tokens
        ]
        self.n_docs = len(self.docs)
        self.ids, self.offsets = _part_ids(
            list(index), scorer.buckets, tuple(scorer.char_ngrams), scorer.folded
        )

    def batch(self, torch, docs: np.ndarray):
        """The network's input for posts ``docs``: the part ids and offsets of their
        distinct words, each post's word positions among those (0 pads) and lengths."""
        words = [self.docs[d] for d in docs]
        lengths = np.array([len(w) for w in words], dtype=np.int64)
        flat = np.concatenate(words) if lengths.sum() else np.zeros(0, dtype=np.int64)
        distinct, inverse = np.unique(flat, return_inverse=True)
        starts, ends = self.offsets[distinct], self.offsets[distinct + 1]
        ids = self.ids[_ranges(starts, ends - starts)]
        bag_offsets = np.concatenate([[0], np.cumsum(ends - starts)[:-1]]).astype(np.int64)
        positions = np.zeros((len(docs), max(int(lengths.max(initial=0)), 1)), dtype=np.int64)
        positions[np.repeat(np.arange(len(docs)), lengths), _ranges(0 * lengths, lengths)] = (
            inverse + 1
        )
        return (
            torch.from_numpy(ids),
            torch.from_numpy(bag_offsets),
            torch.from_numpy(positions),
            torch.from_numpy(np.maximum(lengths, 1)),
        )


def _torch_logits(torch, net, data: _Corpus, docs: np.ndarray, batch_size: int) -> np.ndarray:
    net.eval()
    out = []
    with torch.inference_mode():
        for lo in range(0, len(docs), batch_size):
            out.append(net(*data.batch(torch, docs[lo : lo + batch_size])).double().numpy())
    return np.concatenate(out)


def _network(torch, scorer: NeuralScorer):
    """The torch module that training fits; :class:`_Forward` is its forward pass in numpy."""
    nn = torch.nn

    class Network(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.EmbeddingBag(scorer.buckets, scorer.dim, mode="mean", sparse=True)
            nn.init.normal_(self.embedding.weight, std=0.1)
            self.convs = nn.ModuleList(
                nn.Conv1d(scorer.dim, scorer.channels, w, padding=w - 1) for w in scorer.widths
            )
            self.dropout = nn.Dropout(scorer.dropout)
            self.head = nn.Linear(scorer.channels * len(scorer.widths), len(scorer.task.labels))

        def forward(self, ids, bag_offsets, positions, lengths):
            return self.classify(self.words(ids, bag_offsets, positions), lengths)

        def words(self, ids, bag_offsets, positions):
            """The word vectors of each post, (posts, words, dim); position 0 pads. While
            training, ``word_dropout`` of the words become padding."""
            vectors = self.embedding(ids, bag_offsets)
            vectors = torch.cat([vectors.new_zeros(1, vectors.shape[1]), vectors])
            if self.training and scorer.word_dropout:
                kept = torch.rand(positions.shape) >= scorer.word_dropout
                positions = positions * kept
            return vectors[positions]

        def classify(self, words, lengths):
            x = words.transpose(1, 2)  # (posts, dim, words)
            pooled = []
            for width, conv in zip(scorer.widths, self.convs, strict=True):
                y = conv(x)  # window t covers words t - width + 1 .. t
                steps = torch.arange(y.shape[2])
                y = y.masked_fill((steps[None, :] >= (lengths + width - 1)[:, None])[:, None], -1e9)
                pooled.append(y.max(dim=2).values)
            return self.head(self.dropout(torch.relu(torch.cat(pooled, dim=1))))

    return Network()
