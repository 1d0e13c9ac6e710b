"""Stage 1, normalize: undo the tricks people use to slip a prompt past a filter.

Guarantees: the result is NFKC, lowercase (casefolded), free of zero-width/format/control
characters, with Cyrillic/Greek/full-width look-alikes mapped to Latin inside Latin-looking words,
leetspeak decoded inside words that mix letters and digits, and spaced-out letters ("n a k e d",
"n.a.k.e.d") joined. `match_key()` additionally drops accents, for the rules stage only; the
classifier sees the normalized text with its accents.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Look-alikes that NFKC leaves alone. Cyrillic and Greek letters that render like Latin ones.
_CONFUSABLES = {
    # Cyrillic lowercase
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "һ": "h", "ԛ": "q",
    "ԝ": "w", "ү": "y", "ɡ": "g", "ɑ": "a", "ı": "i",
    # Cyrillic uppercase
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t",
    "У": "y", "Х": "x", "Ѕ": "s", "І": "i", "Ј": "j",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k",
    "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
}  # fmt: skip
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s", "!": "i",
         "|": "l", "+": "t"}  # fmt: skip

_WORD = re.compile(r"[^\s]+")
# A run of at least three single characters split by one repeated separator: "n a k e d", "n.a.k.e.d", "n-4-k-3-d".
_SPACED = re.compile(
    r"(?<![^\s])(?:[^\W_]|[@$!])(?P<sep>[ ._\-*·•/]{1,3})(?:[^\W_]|[@$!])"
    r"(?:(?P=sep)(?:[^\W_]|[@$!])){1,}(?![^\s.,;:?!])"
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Normalized:
    text: str
    """What the classifier sees and what is reported."""
    key: str
    """`text` without accents: what the rules match against."""
    garbage_ratio: float
    """Share of the input's characters that were control, private-use, unassigned or U+FFFD."""
    changed: tuple[str, ...]
    """Which transformations changed something (for the decision's explanation)."""


def _is_latin_letter(ch: str) -> bool:
    return "a" <= ch <= "z" or ("LATIN" in unicodedata.name(ch, "") and ch.isalpha())


def _fix_confusables(word: str, latin_context: bool) -> str:
    if not any(ch in _CONFUSABLES for ch in word):
        return word
    # Map only words that already look Latin (mixed scripts), or that consist entirely of
    # look-alikes in a Latin prompt: an honest Greek or Russian word keeps its letters.
    has_latin = any(_is_latin_letter(ch) for ch in word)
    only_lookalikes = all(ch in _CONFUSABLES or not ch.isalpha() for ch in word)
    if has_latin or (latin_context and only_lookalikes):
        return "".join(_CONFUSABLES.get(ch, ch) for ch in word)
    return word


def _fix_leet(word: str) -> str:
    # Only inside words that mix letters with leet symbols: "n4k3d", "ch1ld", "$ex"; never "2024" or "4k".
    core = word.strip(".,;:?!\"'()[]{}")
    if not core or not any(ch.isalpha() for ch in core) or not any(ch in _LEET for ch in core):
        return word
    letters = sum(ch.isalpha() for ch in core)
    if letters < 2 and len(core) < 4:
        return word
    if re.fullmatch(r"\d+[^\W\d_]{1,4}", core):
        return word  # numbers with a unit keep their digits: "1080p", "4k", "3d", "35mm", "90s", "60fps", "12yo"
    fixed = "".join(_LEET.get(ch, ch) for ch in core)
    return word.replace(core, fixed)


def _join_one(m: re.Match[str]) -> str:
    run, sep = m.group(0), m.group("sep")
    parts = run.split(sep)
    lead = ""
    # "a n a k e d": the article in front is a word of its own, not part of the spelled-out one.
    if sep.strip() == "" and len(parts) >= 4 and parts[0] in ("a", "i"):
        lead, parts = parts[0] + " ", parts[1:]
    chars = "".join(parts)
    # At least two letters: "1 2 3" and "1.5.2" stay as they are.
    return lead + chars if sum(ch.isalpha() for ch in chars) >= 2 else run


def _join_spaced(text: str) -> str:
    return _SPACED.sub(_join_one, text)


def strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def normalize(raw: str) -> Normalized:
    """Normalize one prompt. Never raises on any `str`."""
    changed: list[str] = []
    total = max(1, len(raw))
    bad = 0
    kept: list[str] = []
    for ch in raw:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r":
            kept.append(" ")
        elif cat in ("Cc", "Co", "Cn", "Cs") or ch == "\ufffd":  # U+FFFD: bytes that were not text
            bad += 1
            kept.append(" ")
        elif cat == "Cf":  # zero-width, joiners, bidi controls, soft hyphen: invisible, dropped
            if "zero-width" not in changed:
                changed.append("zero-width")
        else:
            kept.append(ch)
    text = "".join(kept)
    nfkc = unicodedata.normalize("NFKC", text)
    if nfkc != text:
        changed.append("nfkc")
    text = nfkc

    words = _WORD.findall(text)
    latin = sum(1 for w in words for ch in w if _is_latin_letter(ch))
    letters = sum(1 for w in words for ch in w if ch.isalpha())
    latin_context = letters == 0 or latin / letters >= 0.5
    fixed = _WORD.sub(lambda m: _fix_confusables(m.group(0), latin_context), text)
    if fixed != text:
        changed.append("homoglyphs")
    text = fixed.casefold()

    joined = _join_spaced(text)
    if joined != text:
        changed.append("spacing")
    text = joined

    leet = _WORD.sub(lambda m: _fix_leet(m.group(0)), text)
    if leet != text:
        changed.append("leetspeak")
    text = _SPACE.sub(" ", leet).strip()
    key = strip_accents(text)
    return Normalized(text=text, key=key, garbage_ratio=bad / total, changed=tuple(changed))
