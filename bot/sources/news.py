"""`news:QUERY` → a Google News search RSS feed, in the configured language and region.
The query keeps its "phrases" and -exclusions: Google News reads them the same way."""

from __future__ import annotations

from urllib.parse import urlencode

from bot.rules.syntax import And, Node, Not, Term
from bot.i18n import N_, _
from bot.sources.base import Source, SourceError, SourceSettings, unquote_spec

DESCRIPTION = N_("`news:QUERY` → a Google News search RSS feed, in the configured language and region.")
PREFIX = "news"
BASE = "https://news.google.com/rss/search"
EXAMPLES = ('news:"lady gaga" duet', 'news:"britney spears" -rumor')


def expand(spec: str, settings: SourceSettings) -> Source:
    query = unquote_spec(spec)
    if not query.strip('"'):
        raise SourceError(_('news: needs search words, e.g. news:"lady gaga" duet'))
    language = settings.news_language
    region = settings.news_region
    params = {"q": query, "hl": language, "gl": region, "ceid": f"{region}:{language.split('-')[0]}"}
    return Source(f"{BASE}?{urlencode(params)}", f"Google News: {query}")


def query_for_rule(node: Node) -> str:
    """A watch rule → the Google News query that asks for the same thing: phrases
    quoted, OR kept, exclusions as -term. Regex terms have no news equivalent and are
    left out (the watch itself still applies them to what arrives)."""
    return _query(node).strip()


def _query(node: Node) -> str:
    if isinstance(node, Term):
        if node.kind == "regex":
            return ""
        return f'"{node.text}"' if node.kind == "phrase" or " " in node.text else node.text
    if isinstance(node, Not):
        inner = _query(node.child)
        return f"-{inner}" if inner and not inner.startswith("(") else ""  # -(a OR b) means nothing there
    parts = [q for c in node.children if (q := _query(c))]
    if isinstance(node, And):
        return " ".join(parts)
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")" if parts else ""
