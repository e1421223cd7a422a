"""HTML → plain text for matching and display: tags removed, entities decoded, scripts
and styles dropped, block boundaries kept as spaces, whitespace collapsed."""

from __future__ import annotations

import html
import re

from selectolax.lexbor import LexborHTMLParser

# Zero-width: a space goes before each block-level tag, so "<p>a</p><p>b</p>" reads
# "a b" while inline tags ("Ga<b>ga</b>") still join their text.
_BLOCK_TAG = re.compile(
    r"(?=</?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|pre|section|article|"
    r"header|footer|hr|dd|dt|dl|figure|figcaption|img)\b)",
    re.IGNORECASE,
)
_DROP = "script, style, noscript, template, iframe, object"


def collapse(text: str) -> str:
    return " ".join(text.split())


def html_to_text(markup: str | None) -> str:
    if not markup:
        return ""
    if "<" not in markup:
        return collapse(html.unescape(markup)) if "&" in markup else collapse(markup)
    tree = LexborHTMLParser(_BLOCK_TAG.sub(" ", markup))
    for node in tree.css(_DROP):
        node.decompose()
    root = tree.body or tree.root
    return collapse(root.text(separator="") if root is not None else "")


def first_image(markup: str | None) -> str | None:
    """The src of the first <img> in a piece of HTML, if any."""
    if not markup or "<img" not in markup.lower():
        return None
    node = LexborHTMLParser(markup).css_first("img[src]")
    src = node.attributes.get("src") if node is not None else None
    return src.strip() if src and src.strip() else None


# UTF-8 read as Latin-1 or windows-1252 leaves these pairs: "Ã¸" for "ø", "â€™" for "’"
_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6"
                       "\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]")


def repair_mojibake(text: str) -> str:
    """Text whose UTF-8 was decoded as windows-1252 (or Latin-1) inside the feed, made
    right where that is unambiguous: every non-ASCII character of it takes part in such
    a pair, and the bytes it stands for are valid UTF-8. Anything else is left alone."""
    if not _MOJIBAKE.search(text):
        return text
    for legacy in ("cp1252", "latin-1"):
        try:
            repaired = text.encode(legacy).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if repaired != text:
            return repaired
    return text
