"""The one definition of how text is folded before matching: Unicode compatibility forms
(NFKC: full-width letters, ligatures), case (casefold), accents (dropped, both ways),
and typographic quotes, apostrophes and dashes (unified to their ASCII forms).

Folding keeps a map back to the original text so that a match can be reported, and
highlighted, at its place in what the feed said."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_PUNCT = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u02bc": "'", "\uff07": "'", "`": "'", "\u00b4": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"', "\uff02": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-", "\ufe63": "-", "\uff0d": "-",
    }
)

# Scripts written without spaces between words: there a term matches as a substring.
_NO_SPACE_SCRIPTS = re.compile(
    "[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Myanmar, Khmer
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]"  # kana, CJK, Hangul
)


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    s = unicodedata.normalize("NFKC", ch.translate(_PUNCT)).casefold()
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return s.translate(_PUNCT)


_combining: dict[int, None] | None = None


def _drop_combining() -> dict[int, None]:
    """A translate table deleting every combining mark (built once, on first use)."""
    global _combining
    if _combining is None:
        # every code point with a non-zero combining class lies below U+20000
        _combining = {cp: None for cp in range(0x20000) if unicodedata.combining(chr(cp))}
    return _combining


def fold(text: str) -> str:
    """Fold text for comparison. `fold("Beyoncé")` == `fold("BEYONCE")`. The same as
    folding character by character (what original_span relies on), done with whole-string
    operations."""
    if text.isascii():
        return text.lower().replace("`", "'")
    s = unicodedata.normalize("NFKC", text.translate(_PUNCT)).casefold()
    s = unicodedata.normalize("NFKD", s).translate(_drop_combining())
    return s.translate(_PUNCT)


def original_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of `text` whose folding is fold(text)[start:end]. Walks only as far
    into the text as the span reaches; ASCII text folds one to one."""
    if text.isascii():
        return start, end
    pos = 0  # position in the folded text
    o_start = o_end = len(text)
    for i, ch in enumerate(text):
        if pos >= start and o_start == len(text):
            o_start = i
        pos += len(_fold_char(ch))
        if pos >= end:
            o_end = i + 1
            break
    return min(o_start, o_end), o_end


def written_without_spaces(text: str) -> bool:
    return _NO_SPACE_SCRIPTS.search(text) is not None


WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The folded words of a text, in order."""
    return WORD.findall(fold(text))


def token_text(folded: str) -> str:
    """Folded text as its words joined by single spaces, with a space at each end, so
    that " gaga " can only match the whole word and " lady gaga " the phrase."""
    return " " + " ".join(WORD.findall(folded)) + " "
