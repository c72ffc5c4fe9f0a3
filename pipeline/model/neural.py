"""The ``neural`` family: a small CNN over hashed subword word vectors, trained from scratch.

Each segmented word becomes the mean of hashed embeddings of its parts, fastText style: the
word itself, its syllables, its character 3–5-grams (lower-cased, diacritics kept, with
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
saved (embeddings rounded to float16), and labels come from calibrated probabilities times
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
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.metrics import f1_score

from ..errors import InputError
from ..tasks import Task
from ..text.prepare import PREPROCESSING, Prepared, as_prepared
from .base import Scorer, Word, top_words_batch
from .calibration import calibrated_proba, fit_decision_weights, fit_temperature_and_bias
from .transformer import EXTRA_FIX, fit_and_dev_sets

log = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.safetensors"
CHUNK_DOCS = 2048  # posts scored together; bounds the memory of one batch
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
    decomposed = unicodedata.normalize("NFD", word.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def word_parts(word: str, char_ngrams: tuple[int, int] = (3, 5), folded: bool = True) -> list[str]:
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
    ``dim``-wide embeddings (stored as float16) hold the hashed word parts: the word,
    its syllables, ``char_ngrams`` and, with ``folded``, its diacritics-folded form.
    ``widths`` are the convolution widths in words, ``channels`` the filters of each,
    ``dropout`` the dropout of the pooled features. ``epochs`` is the most epochs,
    ``patience`` the epochs without a better dev macro-F1 before stopping;
    ``batch_size``, ``learning_rate`` (dense layers, AdamW), ``embedding_learning_rate``
    (sparse Adam) and ``weight_decay`` drive the optimisers. ``class_weight="balanced"``
    weights the loss by ``n / (labels * count)``; ``None`` leaves it unweighted.
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
        char_ngrams: tuple[int, int] = (3, 5),
        folded: bool = True,
        widths: tuple[int, ...] = (1, 2, 3),
        channels: int = 128,
        dropout: float = 0.3,
        epochs: int = 8,
        patience: int = 2,
        batch_size: int = 64,
        learning_rate: float = 2e-3,
        embedding_learning_rate: float = 1e-2,
        weight_decay: float = 1e-4,
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
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.embedding_learning_rate = embedding_learning_rate
        self.weight_decay = weight_decay
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
                for opt in optimisers:
                    opt.step()
                total += float(loss.detach()) * len(batch)
            dev_logits = _torch_logits(torch, net, data, dev_docs, self.batch_size * 4)
            f1 = _calibrated_macro_f1(dev_logits, y_dev)
            history.append(
                {"epoch": epoch, "train_loss": round(total / len(order), 5), "dev_macro_f1": f1}
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

        # Calibrate the model as it is saved: float16 embeddings, numpy forward pass.
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
        self.embedding_ = np.asarray(state["embedding.weight"], dtype=np.float16)
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
        # Conv1d weights (C, d, k) laid out as one (d, k*C) matrix per width: column block o
        # projects the word at offset o of a window.
        self._projections = [
            np.ascontiguousarray(np.concatenate([w[:, :, o].T for o in range(w.shape[2])], axis=1))
            for w in self.conv_weights_
        ]
        self._vectors = _WordVectors(self)

    # -- scoring ---------------------------------------------------------------------------

    def _logits(self, prepared: list[Prepared]) -> np.ndarray:
        out = [np.zeros((0, len(self.classes_)))]
        for lo in range(0, len(prepared), CHUNK_DOCS):
            out.append(self._forward(prepared[lo : lo + CHUNK_DOCS]).logits)
        return np.concatenate(out)

    def _forward(self, prepared: list[Prepared]) -> _Forward:
        return _Forward(self, [_tokens(p, self.max_words) for p in prepared])

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
            "embedding": self.embedding_,
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
                "embedding.weight": arrays["embedding"],
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
        expected = {
            "embedding": (self.buckets, self.dim),
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
        ids, offsets = _part_ids(words, self.buckets, self.char_ngrams, self.folded)
        sums = np.add.reduceat(self.embedding[ids].astype(np.float32), offsets[:-1], axis=0)
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

    The posts' word vectors are stacked in rows, each post after ``max(widths) - 1`` zero
    rows (and as many at the end), so no window of a width reaches two posts; an empty post
    gets one zero word. A window counts when it covers at least one of its post's rows, as
    torch's ``Conv1d(padding=width - 1)`` with the padded positions masked.
    """

    def __init__(self, scorer: NeuralScorer, tokens: list[list[str]]):
        self.scorer = scorer
        n_docs = len(tokens)
        pad = max(scorer.widths) - 1
        n_words = np.fromiter(map(len, tokens), dtype=np.int64, count=n_docs)
        self.n_words = n_words
        lengths = np.maximum(n_words, 1)
        self.first = pad * np.arange(1, n_docs + 1) + np.concatenate([[0], np.cumsum(lengths)[:-1]])
        n_rows = int(pad * (n_docs + 1) + lengths.sum())
        occupied = np.zeros(n_rows, dtype=bool)
        occupied[_ranges(self.first, lengths)] = True
        # rows of real words, in post order
        self.word_rows = _ranges(self.first, n_words)
        x = np.zeros((n_rows, scorer.dim), dtype=np.float32)
        flat = [w for doc in tokens for w in doc]
        if flat:
            table, rows = scorer._vectors.lookup(flat)
            x[self.word_rows] = table[rows]
        self.n_rows = n_rows
        self.projected, self.pooled, self.argmax = [], [], []
        seen = np.concatenate([[0], np.cumsum(occupied)])
        for proj, bias, width in zip(
            scorer._projections, scorer.conv_biases_, scorer.widths, strict=True
        ):
            c = bias.shape[0]
            z = x @ proj  # (rows, width * C)
            n_win = n_rows - width + 1
            y = z[:n_win, :c] + bias
            for o in range(1, width):
                y += z[o : o + n_win, o * c : (o + 1) * c]
            valid = seen[width : width + n_win] - seen[:n_win] > 0
            y[~valid] = -np.inf
            starts = self.first - (width - 1)
            top = np.maximum.reduceat(y, starts, axis=0)
            self.projected.append(z)
            self.pooled.append(top)
            self.argmax.append((y, starts))
        h = np.maximum(np.concatenate(self.pooled, axis=1), 0)
        self.hidden = h
        self.logits = (h @ scorer.head_weight_.T + scorer.head_bias_).astype(np.float64)

    def word_parts(self, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient × input of ``directions`` (one row of head weights per post) at every
        word: the parts, and each post's offsets into them."""
        parts = np.zeros(self.n_rows, dtype=np.float64)
        col = 0
        for z, top, (y, starts), width in zip(
            self.projected, self.pooled, self.argmax, self.scorer.widths, strict=True
        ):
            c = top.shape[1]
            gain = directions[:, col : col + c] * (top > 0)
            col += c
            at = _segment_argmax(y, top, starts)
            channel = np.arange(c)
            for o in range(width):
                rows = at + o
                values = gain * z[rows, o * c + channel]
                parts += np.bincount(rows.ravel(), values.ravel(), minlength=self.n_rows)
        offsets = np.zeros(len(self.n_words) + 1, dtype=np.int64)
        np.cumsum(self.n_words, out=offsets[1:])
        return parts[self.word_rows], offsets


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])``, vectorised."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    shift = np.repeat(starts - (ends - lengths), lengths)
    return np.arange(total, dtype=np.int64) + shift


def _segment_argmax(y: np.ndarray, top: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """First row of each segment (``starts``) and column where ``y`` reaches ``top``."""
    y = y[starts[0] :]  # rows before the first segment belong to none
    bounds = np.append(starts - starts[0], len(y))
    segment = np.repeat(np.arange(len(starts)), np.diff(bounds))
    rows = np.arange(starts[0], starts[0] + len(y), dtype=np.int64)[:, None]
    hit = np.where(y == top[segment], rows, np.iinfo(np.int64).max)
    return np.minimum.reduceat(hit, bounds[:-1], axis=0)


def _calibrated_macro_f1(logits: np.ndarray, y: np.ndarray) -> float:
    """Dev macro-F1 of the decision rule the model would ship with these logits."""
    temperature, bias = fit_temperature_and_bias(logits, y)
    proba = calibrated_proba(logits, temperature, bias)
    weights = fit_decision_weights(proba, y)
    pred = np.argmax(proba * weights, axis=1)
    return round(float(f1_score(y, pred, average="macro", labels=range(logits.shape[1]))), 5)


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
            """The word vectors of each post, (posts, words, dim); position 0 pads."""
            vectors = self.embedding(ids, bag_offsets)
            vectors = torch.cat([vectors.new_zeros(1, vectors.shape[1]), vectors])
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
