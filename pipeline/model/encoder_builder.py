"""Build a tiny, randomly initialised encoder (tokenizer + weights) from local texts.

Tests and benchmarks need a real Hugging Face encoder without a network, so they build a
small one here: a WordPiece tokenizer trained on the given texts and a BERT (or RoBERTa)
encoder of the chosen size with random weights. The result is a *base model directory*
that ``AutoTokenizer.from_pretrained(out_dir)`` and
``AutoModelForSequenceClassification.from_pretrained(out_dir, num_labels=N)`` load offline
(the classification head is new, so transformers warns that it is newly initialised).

Real users do not need this: they fine-tune PhoBERT, XLM-R or ViSoBERT from a local
directory (or, with a network, a hub id).

The tokenizer splits on whitespace only, so word-segmented Vietnamese (PhoBERT-style input
such as ``sinh_viên``) keeps its underscore-joined words whole when they are in the
vocabulary. Case is kept, text is NFC-normalised. The vocabulary holds every frequent
character (alone and as a ``##`` continuation) and the most frequent whole words. Same texts,
sizes and seed give the same directory.

Needs the ``transformer`` extra (``pip install -e '.[transformer]'``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
KINDS = ("bert", "roberta")


def build_encoder(
    out_dir: str | Path,
    texts: Iterable[str],
    *,
    layers: int = 2,
    hidden: int = 64,
    heads: int = 2,
    intermediate: int | None = None,
    vocab_size: int = 2000,
    max_length: int = 128,
    kind: str = "bert",
    seed: int = 0,
) -> Path:
    """Build a WordPiece tokenizer from ``texts`` and a random encoder; save both.

    ``intermediate`` defaults to ``4 * hidden``. Returns ``out_dir``.
    """
    if kind not in KINDS:
        raise InputError(
            "Unknown encoder kind",
            expected=f"one of {', '.join(KINDS)}",
            found=repr(kind),
            fix="Pass kind='bert' or kind='roberta'.",
        )
    if hidden % heads:
        raise InputError(
            "Encoder size does not split into heads",
            expected="hidden divisible by heads",
            found=f"hidden={hidden}, heads={heads}",
            fix="Choose a hidden size that is a multiple of the number of heads.",
        )
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if not texts:
        raise InputError(
            "No texts to train the tokenizer on",
            expected="at least one non-empty text",
            found="none",
            fix="Pass the texts the encoder will see (e.g. a corpus's text column).",
        )

    try:
        import torch
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
        from transformers import (
            BertConfig,
            BertModel,
            PreTrainedTokenizerFast,
            RobertaConfig,
            RobertaModel,
        )
    except ImportError as e:  # pragma: no cover - depends on the installed extras
        raise InputError(
            "The transformer libraries are not installed",
            expected="torch, transformers and tokenizers",
            found=f"ImportError: {e}",
            fix="Install the extra: pip install -e '.[transformer]'.",
        ) from e

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pad, unk, cls, sep, mask = SPECIAL_TOKENS

    normalizer = normalizers.NFC()
    pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    vocab = _wordpiece_vocab(
        (w for t in texts
         for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(t))),
        vocab_size,
    )
    tok = Tokenizer(models.WordPiece(vocab, unk_token=unk, max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    cls_id, sep_id = tok.token_to_id(cls), tok.token_to_id(sep)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, cls_id), (sep, sep_id)],
    )
    tok.decoder = decoders.WordPiece()

    input_names = ["input_ids", "token_type_ids", "attention_mask"]
    if kind == "roberta":
        input_names = ["input_ids", "attention_mask"]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=max_length,
        pad_token=pad, unk_token=unk, cls_token=cls, sep_token=sep, mask_token=mask,
        bos_token=cls, eos_token=sep,
        model_input_names=input_names,
        padding_side="right",
        truncation_side="right",
    )
    fast.save_pretrained(out_dir)

    size = dict(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate or 4 * hidden,
        pad_token_id=tok.token_to_id(pad),
    )
    if kind == "roberta":
        # RoBERTa positions start after the padding index, so it needs a little headroom.
        config = RobertaConfig(
            **size, max_position_embeddings=max_length + size["pad_token_id"] + 2,
            type_vocab_size=1, bos_token_id=cls_id, eos_token_id=sep_id,
        )
        model_class = RobertaModel
    else:
        config = BertConfig(**size, max_position_embeddings=max_length)
        model_class = BertModel

    torch.manual_seed(seed)
    model = model_class(config)
    model.eval()
    model.save_pretrained(out_dir)
    return out_dir


def _wordpiece_vocab(words: Iterable[str], vocab_size: int) -> dict[str, int]:
    """Special tokens, then characters (each alone and as a ``##`` continuation), then whole
    words, most frequent first and ties in string order.

    The ``tokenizers`` trainers break ties in hash order, so two runs on the same texts give
    different vocabularies; counting here keeps the builder reproducible. Characters take at
    most half the budget; words need to be seen twice.
    """
    word_counts: Counter[str] = Counter(words)
    char_counts: Counter[str] = Counter()
    for w, n in word_counts.items():
        for c in w:
            char_counts[c] += n
    budget = vocab_size - len(SPECIAL_TOKENS)
    if budget < 2:
        raise InputError(
            "Vocabulary too small",
            expected=f"vocab_size of at least {len(SPECIAL_TOKENS) + 2}",
            found=str(vocab_size),
            fix="Pass a larger vocab_size (a few thousand is typical for a tiny encoder).",
        )

    def ranked(counts: Counter[str]) -> list[str]:
        return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    chars = ranked(char_counts)[: budget // 4]
    tokens = [*SPECIAL_TOKENS, *chars, *(f"##{c}" for c in chars)]
    seen = set(tokens)
    for w in ranked(word_counts):
        if len(tokens) >= vocab_size or word_counts[w] < 2:
            break
        if w not in seen:
            tokens.append(w)
            seen.add(w)
    return {t: i for i, t in enumerate(tokens)}
