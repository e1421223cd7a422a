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
