"""Normalise Vietnamese social-media text, keeping a map back to the original characters.

The rules run in this order; each sees the output of the one before:

1. Invisible and control characters removed (zero-width, soft hyphen, bidi controls, C0/C1);
   every whitespace run (NBSP, newline, tab included) becomes one space; ends stripped.
2. Unicode NFC, composed per base + combining-marks cluster so offsets stay exact. Latin
   combining marks that cannot attach (a second tone, a tone on a consonant, Zalgo noise)
   are dropped; marks of other scripts and emoji selectors are kept.
3. Look-alike letters: Ð Ɖ -> Đ, ð -> đ, and ogonek vowels (ą ę į ǫ ų, used to dodge
   filters) -> dot below (ạ ẹ ị ọ ụ).
4. Elongation squeezed: a run of 3+ of the same letter (diacritics aside) becomes its first
   marked letter (đẹppppp -> đẹp, quáaaa -> quá); a word that is nothing but such a run keeps
   three (kkkkk -> kkk, so it never becomes the short form "k"), and a run of exactly three
   inside an all-caps word is kept unless it ends the word (CCCD stays, NGUUU -> NGU); the
   same punctuation mark or emoji repeated 4+ times becomes 3 (!!!!!! -> !!!). Digits are
   never squeezed.
5. Placeholders: e-mails -> xxemail, URLs (scheme, www., bare domain) -> xxurl, Vietnamese
   phone numbers -> xxphone, @mentions -> xxuser. Runs after 4 so a squeeze can never
   turn something into a URL on a second pass.
6. Obfuscation joined: letters split by . * - _ (đ.m, c.h.ó, ng.u), single letters split
   by single spaces (n g u) or letters spelled out by their Vietnamese names (vờ cờ lờ ->
   vcl, đờ mờ -> đm) are joined, and masked forms (l*n) are filled in, only when the result
   is a word listed in resources/obfuscation_words.txt. Digits written for letters (0 1 3 4
   for o i e a: th4ng, ch0, ti3n) become those letters in a word that starts with a letter,
   has at least two letters and more letters than digits, and reads as one Vietnamese
   syllable once they are letters (u23, f0, mp3, 4g, m3, k14, no1 stay).
7. Tone marks placed per syllable the traditional way: on the vowel with a quality mark
   (ơ in ươ), else on the last vowel before a final consonant, else on the first of two or
   the middle of three vowels (hoà -> hòa, thuỷ -> thủy, baỏ -> bảo, lựơng -> lượng).
   Anything that does not parse as one Vietnamese syllable is left alone (café, Pokémon).
8. Teencode expanded from resources/teencode.tsv (ko -> không, đc -> được, vl -> vãi lồn).

Emoji, symbols and case are kept. The output is idempotent: normalising twice changes nothing.

>>> normalise("Ðảm baỏ chất lựơng")
'Đảm bảo chất lượng'
>>> normalise("ko   biết\\u200b dc gì đâuuuu!!!!!! gọi 0912 345 678")
'không biết được gì đâu!!! gọi xxphone'
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import KiemtinError

__all__ = [
    "NORMALISER_NAME",
    "NORMALISER_VERSION",
    "Normalised",
    "Normaliser",
    "normalise",
    "normalise_with_offsets",
    "personal_data_spans",
]

NORMALISER_NAME = "kiemtin-normalise"
NORMALISER_VERSION = "2"  # bump when output changes for any input; recorded in model dirs

_RESOURCES = Path(__file__).resolve().parent / "resources"
DEFAULT_TEENCODE_PATH = _RESOURCES / "teencode.tsv"
DEFAULT_TARGETS_PATH = _RESOURCES / "obfuscation_words.txt"

# An edit replaces text[start:end] (never empty) with a string; every replacement character
# maps to the whole replaced span of the original.
_Edit = tuple[int, int, str]


@dataclass(frozen=True)
class Normalised:
    """Normalised text and, per character, the half-open span of the original it came from.

    >>> n = normalise_with_offsets("Thg  đó ko biết")
    >>> n.text
    'Thg đó không biết'
    >>> n.to_original(7, 12)
    (8, 10)
    """

    text: str
    starts: Sequence[int]
    ends: Sequence[int]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of the normalised text to the smallest half-open span of the
        original that covers it. An empty span maps to an empty span at the same place."""
        n = len(self.text)
        if not 0 <= start <= end <= n:
            raise ValueError(
                f"span ({start}, {end}) is not inside the normalised text of length {n}; "
                "pass 0 <= start <= end <= len(text)"
            )
        if start < end:
            return self.starts[start], self.ends[end - 1]
        if start < n:
            return self.starts[start], self.starts[start]
        last = self.ends[n - 1] if n else 0
        return last, last


# ---------------------------------------------------------------------------------------------
# Character classes

_WS = r"\t\n\x0b\x0c\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_WS_NOT_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INVISIBLE = (
    r"\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\xad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u206f\ufeff"
)
# Latin-script combining marks (Vietnamese tones and the like). Left over after NFC they are
# noise: a second tone, a tone on a consonant ("ng̀"), Zalgo text. Marks of other scripts,
# emoji variation selectors and keycaps are kept.
_STRAY = r"\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\ufe20-\ufe2f"
_STRAY_RE = re.compile(f"[{_STRAY}]")
# Marks after whitespace or at the start have nothing to sit on: they go with rule 1.
_SPACE_RE = re.compile(
    f"^[{_WS}{_INVISIBLE}{_STRAY}]+|(?P<ws>[{_INVISIBLE}]*[{_WS}][{_WS}{_INVISIBLE}{_STRAY}]*)"
    f"|[{_INVISIBLE}]+"
)
_SPACE_NEEDED_RE = re.compile(f"[{_INVISIBLE}{_WS_NOT_SPACE}]|  |^[{_STRAY}]| [{_STRAY}]")

_LOOKALIKES = str.maketrans(
    {
        "\u00d0": "Đ", "\u0189": "Đ", "\u00f0": "đ",
        "ą": "ạ", "ę": "ẹ", "į": "ị", "ǫ": "ọ", "ų": "ụ",
        "Ą": "Ạ", "Ę": "Ẹ", "Į": "Ị", "Ǫ": "Ọ", "Ų": "Ụ",
    }
)  # fmt: skip
_LOOKALIKE_RE = re.compile("[" + "".join(chr(c) for c in _LOOKALIKES) + "]")

_LETTER = r"[^\W\d_]"

# Vietnamese vowels with their tone marks: grave, acute, hook above, tilde, dot below.
_TONE_MARKS = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
_BASE_VOWELS = "aăâeêioôơuưy"
_TONED: dict[str, tuple[str, int]] = {}  # toned vowel -> (same vowel untoned, tone 1..5)
_ADD_TONE: dict[tuple[str, int], str] = {}
for _base in _BASE_VOWELS + _BASE_VOWELS.upper():
    for _tone, _mark in enumerate(_TONE_MARKS, start=1):
        _toned = unicodedata.normalize("NFC", _base + _mark)
        _TONED[_toned] = (_base, _tone)
        _ADD_TONE[(_base, _tone)] = _toned
_ALL_VOWELS = "".join(sorted(set(_BASE_VOWELS + _BASE_VOWELS.upper()) | set(_TONED)))
_TONED_VOWELS = "".join(sorted(_TONED))


# ---------------------------------------------------------------------------------------------
# Rule 4: elongation. Runs are found on a skeleton of the text (same length) in which each
# vowel loses its tone and a/ă/â, e/ê, o/ô/ơ, d/đ lose their marks, but u and ư stay apart so
# "cứuuu" stays "cứu".
_SKELETON = str.maketrans(
    {c: b.lower().translate(str.maketrans("ăâêôơ", "aaeoo")) for c, (b, _) in _TONED.items()}
    | {c: c.lower().translate(str.maketrans("ăâêôơđ", "aaeood")) for c in "ĂÂÊÔƠĐăâêôơđ"}
    | {c: "ư" for c in "Ư"}
)
_SQUEEZE_RE = re.compile(
    rf"({_LETTER})(?i:\1){{2,}}"
    r"|(?P<sym>(?P<unit>[^\w\s][\ufe0f\U0001f3fb-\U0001f3ff]?)(?P=unit){3,})"
)

# ---------------------------------------------------------------------------------------------
# Rule 5: placeholders.
_URL_END = r"[^\s.,;:!?()\[\]{}<>'\"«»…]"  # a URL does not end on punctuation
_TLD_ALONE = "com|net|org|vn|info|biz|edu|gov|asia|xyz|io"
_TLD_WITH_PATH = "ly|gl|be|me|co|tv|us|uk|to|gg|app|dev|link"  # short words: need a path
_PLACEHOLDER_RE = re.compile(
    rf"(?P<xxemail>(?<![\w.+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    rf"\.[A-Za-z]{{2,}}(?![\w-]))"
    rf"|(?P<xxurl>(?<!\w)(?:https?://|www\.)(?:\S*{_URL_END})?"
    rf"|(?<![\w@])(?<!\w-)(?!xx(?:url|email|phone|user)\b)"
    rf"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    rf"(?:(?:{_TLD_ALONE})(?:\.[A-Za-z]{{2}})?(?::\d+)?(?:/(?:\S*{_URL_END})?)?"
    rf"|(?:{_TLD_WITH_PATH})/(?:\S*{_URL_END})?)(?![\w-]))"
    r"|(?P<xxphone>(?<![\w+.,])(?:\+84|84|0)[ .-]?[1-9](?:[ .-]?\d){8,9}(?!\w|[.,]\d))"
    r"|(?P<xxuser>(?<![\w@])@\w(?:[\w.]*\w)?)",
    re.IGNORECASE,
)
# Placeholders run again until nothing changes: "@an@x.vn" -> "xxuser@x.vn" -> "xxemail".
_MAX_ROUNDS = 4
# Something every placeholder match contains; most posts have none, so the full pattern is
# skipped for them.
_PLACEHOLDER_HINT_RE = re.compile(
    rf"@|://|www\.|\.(?:{_TLD_ALONE}|{_TLD_WITH_PATH})\b|(?:0|84)[ .-]?[1-9]", re.IGNORECASE
)

# ---------------------------------------------------------------------------------------------
# Rule 6: obfuscation. A chain is maximal: no further letter glued on by a separator.
_SEP = r"[.*\-_]"
_NOT_GLUED_BEFORE = (
    rf"(?<!\w)(?<!{_LETTER}{_SEP})(?<!{_LETTER}{_SEP}{_SEP})(?<!{_LETTER}{_SEP}{_SEP}{_SEP})"
)
_NOT_GLUED_AFTER = rf"(?!\w)(?!{_SEP}{{1,3}}{_LETTER})"
_JOIN_RE = re.compile(
    rf"{_NOT_GLUED_BEFORE}(?P<dot>{_LETTER}{{1,2}}(?:{_SEP}{{1,3}}{_LETTER}{{1,2}})+){_NOT_GLUED_AFTER}"
    rf"|{_NOT_GLUED_BEFORE}(?P<sp>{_LETTER}(?: {_LETTER})+){_NOT_GLUED_AFTER}"
)
# Something every chain contains (a glued separator, or two spaced single letters).
_JOIN_HINT_RE = re.compile(rf"{_LETTER}{_SEP}|\b{_LETTER} {_LETTER}\b")
_SEP_RE = re.compile(_SEP)
_STARS_RE = re.compile(r"\*+")
# Letters spelled out by their names; only a run of two or more that joins into a target.
_SPELLED = {f"{letter}ờ": letter for letter in "bcdđghlmnprstvx"}
_SPELLED_NAME = "(?:" + "|".join(_SPELLED) + ")"
_SPELLED_RE = re.compile(rf"(?<!\w){_SPELLED_NAME}(?: {_SPELLED_NAME})+(?!\w)", re.IGNORECASE)
_WORD_RE = re.compile(r"\S+")
# Digits for letters: a token that starts with a letter and holds one of 0 1 3 4.
_LEET = str.maketrans("0134", "oiea")
_LEET_RE = re.compile(rf"(?<![\w@#]){_LETTER}\w*[0134]\w*(?!\w)")

# ---------------------------------------------------------------------------------------------
# Rule 7: tone placement. Candidates: words with a toned vowel next to another vowel.
_RETONE_CORE_RE = re.compile(f"[{_TONED_VOWELS}][{_ALL_VOWELS}]|[{_ALL_VOWELS}][{_TONED_VOWELS}]")
_LETTERS_RE = re.compile(f"{_LETTER}+")
_SYLLABLE_RE = re.compile(
    rf"(ngh|ng|nh|ch|gh|gi(?=[{_BASE_VOWELS}])|kh|ph|th|tr|qu(?=[{_BASE_VOWELS}])"
    rf"|[bcdđghklmnpqrstvx])?([{_BASE_VOWELS}]+)(ch|ng|nh|[cmnpt])?"
)
# fmt: off
_NUCLEI = frozenset({
    "a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y", "ai", "ao", "au", "ay", "âu",
    "ây", "eo", "êu", "ia", "iê", "iu", "oa", "oă", "oe", "oi", "ôi", "ơi", "oo", "ua", "uâ",
    "uê", "ui", "uô", "uơ", "uy", "ưa", "ưi", "ươ", "ưu", "yê", "iêu", "oai", "oay", "oeo",
    "uây", "uôi", "uya", "uyê", "uyu", "ươi", "ươu", "yêu",
})
# Nuclei that end in a glide (or are ia/ua/ưa) take no final consonant: "Bảoc" is not a syllable.
_OPEN_ONLY = frozenset({
    "ai", "ao", "au", "ay", "âu", "ây", "eo", "êu", "ia", "iu", "oi", "ôi", "ơi", "ua", "ui",
    "ưa", "ưi", "ưu", "iêu", "oai", "oay", "oeo", "uây", "uôi", "uya", "uyu", "ươi", "ươu",
    "yêu",
})
# fmt: on
_QUALITY = "ăâêôơư"
# The same nuclei typed without marks ("ie" for "iê"), and those that take a final consonant.
_PLAIN = str.maketrans(_QUALITY, "aaeoou")
_PLAIN_NUCLEI = frozenset(n.translate(_PLAIN) for n in _NUCLEI)
_PLAIN_CLOSED = frozenset(n.translate(_PLAIN) for n in _NUCLEI - _OPEN_ONLY)


def _tone_index(nucleus: str, has_final: bool) -> int:
    """Which vowel of the nucleus carries the tone (traditional placement)."""
    if "ươ" in nucleus:
        return nucleus.index("ơ")
    for i, ch in enumerate(nucleus):
        if ch in _QUALITY:
            return i
    if has_final:
        return len(nucleus) - 1
    return 1 if len(nucleus) == 3 else 0


def _syllable(word: str) -> re.Match[str] | None:
    """The parts (onset, nucleus, final) of a lower-case word without tone marks if it is one
    Vietnamese syllable, else None; a word without any marks is read as typed without them
    ("tien" for "tiên").

    >>> [bool(_syllable(w)) for w in ("thang", "cho", "tien", "tiên", "fo", "mpe", "ag", "baoc")]
    [True, True, True, True, False, False, False, False]
    """
    m = _SYLLABLE_RE.fullmatch(word)
    if m is None:
        return None
    nucleus, final = m.group(2), m.group(3)
    if nucleus in _NUCLEI:
        return None if final and nucleus in _OPEN_ONLY else m
    plain = word.isascii() and nucleus in (_PLAIN_CLOSED if final else _PLAIN_NUCLEI)
    return m if plain else None


@functools.lru_cache(maxsize=65536)
def _retone(word: str) -> str | None:
    """The word with its one tone mark moved to the right vowel, or None to leave it.

    >>> _retone("hoà"), _retone("Thuỷ"), _retone("hòang"), _retone("quý"), _retone("café")
    ('hòa', 'Thủy', 'hoàng', None, None)
    """
    tone = 0
    pos = -1
    plain = []
    for i, ch in enumerate(word):
        info = _TONED.get(ch)
        if info is None:
            plain.append(ch)
            continue
        if tone:
            return None  # several tone marks: not one Vietnamese syllable
        base, tone = info
        pos = i
        plain.append(base)
    if not tone:
        return None
    m = _syllable("".join(plain).lower())
    if m is None or m.group(2) not in _NUCLEI:
        return None
    target = len(m.group(1) or "") + _tone_index(m.group(2), m.group(3) is not None)
    if target == pos:
        return None
    chars = list(word)
    chars[pos] = plain[pos]
    chars[target] = _ADD_TONE[(word[target], tone)]
    return "".join(chars)


@functools.cache
def _cluster_re() -> re.Pattern[str]:
    """Base + combining marks, a lone character that NFC changes, or a look-alike letter
    (built on first use: it scans the code points once)."""
    marks = []
    singles = []
    for cp in range(0x30000):
        ch = chr(cp)
        if unicodedata.category(ch).startswith("M") or 0x1160 <= cp <= 0x11FF:
            marks.append(ch)
        elif unicodedata.normalize("NFC", ch) != ch:
            singles.append(ch)
    mark_class = "[" + "".join(re.escape(c) for c in marks) + "]"
    single_class = "[" + "".join(re.escape(c) for c in singles) + "]"
    lookalikes = "[" + "".join(chr(c) for c in _LOOKALIKES) + "]"
    return re.compile(f"(?s).{mark_class}+|{single_class}|{lookalikes}")


def _trie_pattern(words: Iterable[str]) -> str:
    """A regex alternation of `words` factored as a trie (longest match first).

    >>> _trie_pattern(["ko", "k", "kh", "dc", "đm", "đmm"])
    '(?:dc|k(?:h|o)?|đmm?)'
    """
    root: dict[str, dict] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        if "" in node:  # a word ends here: the longer ones are optional
            if len(branches) == 1 and len(branches[0]) == 1:
                return branches[0] + "?"
            return "(?:" + "|".join(branches) + ")?"
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(root)


def _match_case(token: str, expansion: str) -> str:
    """Give `expansion` the capitalisation style of `token` (proper nouns kept as written)."""
    if expansion != expansion.lower():
        return expansion
    if len(token) > 1 and token.isupper():
        return expansion.upper()
    if token[:1].isupper():
        return expansion[:1].upper() + expansion[1:]
    return expansion


def _before_no_mark(text: str, edits: list[_Edit]) -> list[_Edit]:
    """Drop edits whose new last letter would compose with the combining marks after it
    (the text is NFC here, so only that junction can change). Rare: Latin marks NFC could
    not attach are already gone, but another script's mark may follow a word."""
    n = len(text)
    kept = []
    for edit in edits:
        start, end, repl = edit
        if end < n and unicodedata.category(text[end])[0] == "M":
            marks_end = end
            while marks_end < n and unicodedata.category(text[marks_end])[0] == "M":
                marks_end += 1
            junction = (repl[-1:] or text[start - 1 : start]) + text[end:marks_end]
            if not unicodedata.is_normalized("NFC", junction):
                continue
        kept.append(edit)
    return kept


def _apply(text: str, edits: list[_Edit]) -> str:
    parts = []
    prev = 0
    for start, end, repl in edits:
        parts.append(text[prev:start])
        parts.append(repl)
        prev = end
    parts.append(text[prev:])
    return "".join(parts)


def _apply_offsets(
    text: str, starts: list[int], ends: list[int], edits: list[_Edit]
) -> tuple[str, list[int], list[int]]:
    parts = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    prev = 0
    for start, end, repl in edits:
        parts.append(text[prev:start])
        new_starts += starts[prev:start]
        new_ends += ends[prev:start]
        if repl:
            parts.append(repl)
            new_starts += [starts[start]] * len(repl)
            new_ends += [ends[end - 1]] * len(repl)
        prev = end
    parts.append(text[prev:])
    new_starts += starts[prev:]
    new_ends += ends[prev:]
    return "".join(parts), new_starts, new_ends


# ---------------------------------------------------------------------------------------------
# Resource files


def _bad_line(path: Path, lineno: int, expected: str, found: str) -> KiemtinError:
    return KiemtinError(
        f"{path.name} line {lineno}",
        expected=expected,
        found=repr(found),
        fix=f"edit {path} (see the comment at its top for the format)",
    )


def load_teencode(path: Path | str = DEFAULT_TEENCODE_PATH) -> dict[str, str]:
    """Read a teencode table: short form -> expansion (see the file's header for the format)."""
    path = Path(path)
    table: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0] or not cols[1].strip():
            raise _bad_line(path, lineno, "'short form<TAB>expansion[<TAB>note]'", line)
        short, expansion = cols[0], cols[1].strip()
        _check_short_form(short, path.name, lineno)
        if short in table:
            raise _bad_line(path, lineno, "each short form once", f"{short} again")
        table[short] = expansion
    return table


def load_targets(path: Path | str = DEFAULT_TARGETS_PATH) -> tuple[set[str], dict[str, str]]:
    """Read the obfuscation lexicon: (target words, masked form -> word)."""
    path = Path(path)
    words: set[str] = set()
    masks: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) == 1 and "*" not in cols[0] and cols[0] == cols[0].strip().lower():
            words.add(unicodedata.normalize("NFC", cols[0]))
        elif len(cols) == 2 and "*" in cols[0] and cols[1].strip():
            masks[_STARS_RE.sub("*", cols[0].lower())] = cols[1].strip()
        else:
            raise _bad_line(path, lineno, "'word' or 'masked<TAB>word'", line)
    return words, masks


def _check_short_form(short: str, source: str, lineno: int | None = None) -> None:
    if short != short.lower() or not short.isalpha():
        where = f"{source} line {lineno}" if lineno else source
        raise KiemtinError(
            f"teencode short form in {where}",
            expected="one lower-case word of letters",
            found=repr(short),
            fix="write the short form in lower case without spaces, digits or punctuation",
        )


# ---------------------------------------------------------------------------------------------


class Normaliser:
    """The configurable normaliser behind `normalise` and `normalise_with_offsets`.

    Parameters are stored as given; tables are read once here. A model trained with a
    non-default table should record its own name/version, since the output differs.

    >>> Normaliser(extra_teencode={"hqua": "hôm qua"}).normalise("hqua ko đi")
    'hôm qua không đi'
    """

    def __init__(
        self,
        teencode_path: Path | str = DEFAULT_TEENCODE_PATH,
        targets_path: Path | str = DEFAULT_TARGETS_PATH,
        extra_teencode: Mapping[str, str] | None = None,
        extra_targets: Iterable[str] = (),
    ):
        self.teencode_path = teencode_path
        self.targets_path = targets_path
        self.extra_teencode = dict(extra_teencode or {})
        self.extra_targets = tuple(extra_targets)

        teencode = load_teencode(teencode_path)
        for short, expansion in self.extra_teencode.items():
            _check_short_form(short, "extra_teencode")
            if not isinstance(expansion, str) or not expansion.strip():
                raise KiemtinError(
                    f"extra_teencode[{short!r}]",
                    expected="a non-empty expansion",
                    found=repr(expansion),
                    fix="map each short form to the words it stands for, e.g. {'hqua': 'hôm qua'}",
                )
            teencode[short] = expansion.strip()
        self._teencode = {k: unicodedata.normalize("NFC", v) for k, v in teencode.items()}
        words, self._masks = load_targets(targets_path)
        words.update(w.lower() for w in self.extra_targets)
        self._targets = frozenset(words)
        self._longest_target = max(map(len, self._targets), default=0)

        # Whole token: not after a letter/digit/@/#, a digit and a space ("300 k"), or a
        # letter glued by - or '; not before a letter/digit or a glued letter. The keys form
        # a trie, matched on the lower-cased text (much faster than IGNORECASE).
        pattern = (
            r"(?<![\w@#&])(?<!\d )(?<!\w[-'’])"
            + _trie_pattern(self._teencode)
            + r"(?![\w@])(?![-'’]\w)"
        )
        self._teencode_re = re.compile(pattern)
        self._teencode_re_nocase = re.compile(pattern, re.IGNORECASE)
        # Rules 4-8, each with how many times it may run (placeholders until stable).
        self._word_stages: tuple[tuple[Callable[[str], list[_Edit]], int], ...] = (
            (self._squeeze, 1),
            (self._placeholders, _MAX_ROUNDS),
            (self._join, 1),
            (self._unleet, 1),
            (self._retone, 1),
            (self._expand, 1),
        )

    def __repr__(self) -> str:
        return (
            f"Normaliser(teencode_path={str(self.teencode_path)!r}, "
            f"targets_path={str(self.targets_path)!r}, extra_teencode={self.extra_teencode!r}, "
            f"extra_targets={self.extra_targets!r})"
        )

    @property
    def teencode(self) -> Mapping[str, str]:
        """The short form -> expansion table in use (read-only copy)."""
        return dict(self._teencode)

    # --- public ----------------------------------------------------------------------------

    def normalise(self, text: str) -> str:
        """Normalised text (same as `normalise_with_offsets(text).text`, without the offsets)."""
        _check_str(text)
        edits = _space_edits(text)
        if edits:
            text = _apply(text, edits)
        chars = _char_edits(text)
        if isinstance(chars, str):
            text = chars
        elif chars:
            text = _apply(text, chars)
        for stage, rounds in self._word_stages:
            for _ in range(rounds):
                edits = _before_no_mark(text, stage(text))
                if not edits:
                    break
                text = _apply(text, edits)
        return text

    def normalise_with_offsets(self, text: str) -> Normalised:
        """Normalised text with, per character, its span in `text`."""
        _check_str(text)
        starts = list(range(len(text)))
        ends = list(range(1, len(text) + 1))
        edits = _space_edits(text)
        if edits:
            text, starts, ends = _apply_offsets(text, starts, ends, edits)
        chars = _char_edits(text)
        if isinstance(chars, str):
            text = chars  # rewritten one character for one: offsets unchanged
        elif chars:
            text, starts, ends = _apply_offsets(text, starts, ends, chars)
        for stage, rounds in self._word_stages:
            for _ in range(rounds):
                edits = _before_no_mark(text, stage(text))
                if not edits:
                    break
                text, starts, ends = _apply_offsets(text, starts, ends, edits)
        return Normalised(text, tuple(starts), tuple(ends))

    # --- word stages: each returns non-overlapping edits in text order ----------------------

    @staticmethod
    def _squeeze(text: str) -> list[_Edit]:
        edits = []
        for m in _SQUEEZE_RE.finditer(text.translate(_SKELETON)):
            start, end = m.span()
            if m.group("sym") is not None:
                edits.append((start, end, text[start : start + len(m.group("unit")) * 3]))
                continue
            run = text[start:end]
            whole_word = (start == 0 or not text[start - 1].isalpha()) and (
                end == len(text) or not text[end].isalpha()
            )
            if whole_word:
                if len(run) > 3:  # laughter "kkkkk" stays a word, not the short form "k"
                    edits.append((start, end, run[:3]))
                continue
            if len(run) == 3 and run.isupper() and end < len(text) and text[end].isalpha():
                word_end = _LETTERS_RE.match(text, end).end()  # type: ignore[union-attr]
                word_start = start
                while word_start > 0 and text[word_start - 1].isalpha():
                    word_start -= 1
                if text[word_start:word_end].isupper():
                    continue  # acronym: "CCCD" (căn cước công dân), "XXXL"
            keep = next((c for c in run if not c.isascii()), run[0])
            edits.append((start, end, keep))
        return edits

    @staticmethod
    def _placeholders(text: str) -> list[_Edit]:
        if not _PLACEHOLDER_HINT_RE.search(text):
            return []
        return [(*m.span(), m.lastgroup or "") for m in _PLACEHOLDER_RE.finditer(text)]

    def _join(self, text: str) -> list[_Edit]:
        if not _JOIN_HINT_RE.search(text):
            return self._join_spelled(text)
        edits: list[_Edit] = self._join_spelled(text)
        for m in _JOIN_RE.finditer(text):
            chain = m.group()
            if m.lastgroup == "sp":
                edits += self._join_spaced(chain, m.start())
                continue
            if "*" in chain:
                word = self._masks.get(_STARS_RE.sub("*", chain.lower()))
                if word is not None:
                    edits.append((*m.span(), _match_case(chain, word)))
                    continue
            joined = _SEP_RE.sub("", chain)
            if self._is_target(joined):
                edits.append((*m.span(), joined))
        return sorted(edits)

    def _join_spelled(self, text: str) -> list[_Edit]:
        """Letters spelled out by name joined into a target word: "vờ cờ lờ" -> "vcl"."""
        if "ờ" not in text and "Ờ" not in text:
            return []
        edits: list[_Edit] = []
        for m in _SPELLED_RE.finditer(text):
            names = [n.span() for n in _WORD_RE.finditer(text, m.start(), m.end())]
            letters = "".join(_SPELLED[text[a:b].lower()] for a, b in names)
            for i, j in self._targets_in(letters):
                start, end = names[i][0], names[j - 1][1]
                edits.append((start, end, _match_case(text[start:end], letters[i:j])))
        return edits

    @staticmethod
    def _unleet(text: str) -> list[_Edit]:
        """Digits written for letters in one Vietnamese syllable: "th4ng" -> "thang"."""
        edits: list[_Edit] = []
        for m in _LEET_RE.finditer(text):
            token = m.group()
            digits = sum(c.isdigit() for c in token)
            letters = len(token) - digits
            if letters < 2 or letters <= digits or token.endswith("1"):
                continue  # "no1", "top1": a rank, not a letter
            if not all(c in "0134" or c.isalpha() for c in token):
                continue
            word = token.translate(_LEET)
            if _syllable(word.lower()) is None:
                continue
            if token.isupper():  # digits take the case of the letters: "TH4NG" -> "THANG"
                word = word.upper()
            edits.append((*m.span(), word))
        return edits

    def _join_spaced(self, chain: str, offset: int) -> list[_Edit]:
        """Join the target words inside a chain of spaced single letters ("k đ m" -> "k đm")."""
        letters = chain[::2]
        found = self._targets_in(letters)
        return [(offset + 2 * i, offset + 2 * j - 1, letters[i:j]) for i, j in found]

    def _targets_in(self, letters: str) -> list[tuple[int, int]]:
        """The longest target words in a run of letters, left to right, as (start, end), so
        that expanding a letter left over later ("k") cannot expose a new one."""
        found = []
        i = 0
        while i < len(letters):
            for j in range(min(len(letters), i + self._longest_target), i + 1, -1):
                if self._is_target(letters[i:j]):
                    found.append((i, j))
                    i = j
                    break
            else:
                i += 1
        return found

    def _is_target(self, word: str) -> bool:
        key = word.lower()
        return key in self._targets or _retone(key) in self._targets

    @staticmethod
    def _retone(text: str) -> list[_Edit]:
        edits = []
        word_end = 0
        for core in _RETONE_CORE_RE.finditer(text):
            if core.start() < word_end:
                continue  # same word as the last core
            word_start = core.start()
            while word_start > 0 and text[word_start - 1].isalpha():
                word_start -= 1
            word_end = _LETTERS_RE.match(text, core.start()).end()  # type: ignore[union-attr]
            word = text[word_start:word_end]
            fixed = _retone(word)
            if fixed is None:
                continue
            # Replace only the changed stretch, so offsets of the rest stay per character.
            first = next(i for i in range(len(word)) if word[i] != fixed[i])
            last = next(i for i in range(len(word) - 1, -1, -1) if word[i] != fixed[i])
            edits.append((word_start + first, word_start + last + 1, fixed[first : last + 1]))
        return edits

    def _expand(self, text: str) -> list[_Edit]:
        edits = []
        lowered = text.lower()
        if len(lowered) == len(text):
            matches = self._teencode_re.finditer(lowered)
        else:  # a few characters (İ) lower-case to two
            matches = self._teencode_re_nocase.finditer(text)
        for m in matches:
            token = text[m.start() : m.end()]
            if len(token) == 1 and not token.islower():
                continue  # "K", "R": initials
            start, end = m.span()
            if _glued_to_capital(text, start, end):
                continue  # "TP.HCM", "VN.Index"
            edits.append((start, end, _match_case(token, self._teencode[token.lower()])))
        return edits


def _glued_to_capital(text: str, start: int, end: int) -> bool:
    """True if the token touches another word through a bare '.', and either side is a capital."""
    n = len(text)
    if end + 1 < n and text[end] == "." and text[end + 1].isalpha():
        return text[end + 1].isupper() or text[end - 1].isupper()
    if start >= 2 and text[start - 1] == "." and text[start - 2].isalpha():
        return text[start - 2].isupper() or text[start].isupper()
    return False


def _check_str(text: object) -> None:
    if not isinstance(text, str):
        raise KiemtinError(
            "normalise() input",
            expected="one str",
            found=f"{type(text).__name__} {text!r:.60}",
            fix="pass one text per call, e.g. [normalise(t) for t in texts]; "
            "read CSV columns with keep_default_na=False so empty cells are '' not NaN",
        )


def _space_edits(text: str) -> list[_Edit]:
    """Rule 1: drop invisibles, collapse whitespace runs to one space, strip the ends."""
    if not (_SPACE_NEEDED_RE.search(text) or text[:1] == " " or text[-1:] == " "):
        return []
    edits = []
    n = len(text)
    for m in _SPACE_RE.finditer(text):
        start, end = m.span()
        if m.lastgroup != "ws" or start == 0 or end == n:
            edits.append((start, end, ""))
        elif end - start > 1 or text[start] != " ":
            edits.append((start, end, " "))
    return edits


def _char_edits(text: str) -> list[_Edit] | str:
    """Rules 2 and 3: NFC and look-alike letters, per base + combining-marks cluster; Latin
    combining marks that NFC could not attach are dropped.

    Done together because a replaced look-alike can compose with a following mark
    (ę + circumflex -> ẹ + circumflex -> ệ). Each composed character maps to the characters
    it came from.
    """
    if unicodedata.is_normalized("NFC", text) and not _STRAY_RE.search(text):
        if not _LOOKALIKE_RE.search(text):
            return []
        translated = text.translate(_LOOKALIKES)
        if unicodedata.is_normalized("NFC", translated):
            return translated  # one char for one: offsets unchanged
    edits = []
    for m in _cluster_re().finditer(text):
        cluster = m.group()
        # NFC, drop the Latin marks it could not attach, swap look-alikes, and compose again
        # (dropping a mark or swapping a letter can let the rest compose).
        fixed = _STRAY_RE.sub("", unicodedata.normalize("NFC", cluster))
        fixed = unicodedata.normalize("NFC", fixed.translate(_LOOKALIKES))
        if fixed != cluster:
            edits.append((*m.span(), fixed))
    return edits


@functools.cache
def _default() -> Normaliser:
    return Normaliser()


def normalise(text: str) -> str:
    """Normalise one post with the default tables (pure; see the module docstring).

    >>> normalise("Hoà bình   đẹppppp quáaaa")
    'Hòa bình đẹp quá'
    >>> normalise("thằng n g u, đ.m")
    'thằng ngu, địt mẹ'
    """
    return _default().normalise(text)


def normalise_with_offsets(text: str) -> Normalised:
    """Normalise one post and keep, per character, its span in the original.

    >>> n = normalise_with_offsets("xem https://t.co/abc đi")
    >>> n.text, n.to_original(4, 9)
    ('xem xxurl đi', (4, 20))
    """
    return _default().normalise_with_offsets(text)


_PERSONAL_KINDS = ("xxemail", "xxphone", "xxuser")


def personal_data_spans(text: str) -> list[tuple[int, int, str]]:
    """Spans of e-mail addresses, phone numbers and @handles in ``text`` (URLs are not personal).

    The same patterns as the placeholders of rule 5, applied to the text as given.

    >>> personal_data_spans("gọi 0912 345 678 hoặc @an_nguyen")
    [(4, 16, 'xxphone'), (22, 32, 'xxuser')]
    """
    return [
        (*m.span(), m.lastgroup)
        for m in _PLACEHOLDER_RE.finditer(text)
        if m.lastgroup in _PERSONAL_KINDS
    ]
