"""Entry → the watches it fires. Pure: compiled once from the active watches, then
called per entry.

This is the core's interim matcher: each distinct term is one regex over the folded
text, evaluated per watch. The rules issue replaces it with a single automaton behind
the same `compile_watches` / `Matcher.match` surface."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable, Sequence

from bot.model import Entry, Match, TermHit, Watch, WatchId
from bot.rules.normalise import FoldedText, fold_mapped, written_without_spaces
from bot.rules.syntax import And, Limits, Node, Not, Or, Term, parse_rule, terms_of

# Fields searched by a term without a field prefix.
DEFAULT_FIELDS = ("title", "summary", "content", "tags")


def entry_fields(entry: Entry) -> dict[str, str]:
    return {
        "title": entry.title,
        "summary": entry.summary,
        "content": entry.content,
        "tags": "\n".join(entry.tags),
    }


def _term_pattern(term: Term) -> re.Pattern[str]:
    folded = term.folded
    if written_without_spaces(folded):
        return re.compile(re.escape(folded))
    parts = folded.split()
    alternatives = [r"\W+".join(re.escape(p) for p in parts)]
    if len(parts) > 1:  # "lady gaga" also matches #LadyGaga and @ladygaga
        alternatives.append(re.escape("".join(parts)))
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


@dataclass(frozen=True, slots=True)
class CompiledWatch:
    watch: Watch
    tree: Node


class Matcher:
    def __init__(self, watches: Sequence[CompiledWatch]) -> None:
        self.watches = tuple(watches)
        self._patterns: dict[str, re.Pattern[str]] = {}
        for cw in self.watches:
            for term in terms_of(cw.tree):
                if term.folded not in self._patterns:
                    self._patterns[term.folded] = _term_pattern(term)

    def __len__(self) -> int:
        return len(self.watches)

    def match(self, entry: Entry) -> list[Match]:
        return self.match_fields(entry_fields(entry))

    def match_fields(self, fields: dict[str, str]) -> list[Match]:
        texts = {name: fold_mapped(text) for name, text in fields.items() if text}
        found: dict[str, tuple[TermHit, ...]] = {}

        def hits(term: Term) -> tuple[TermHit, ...]:
            key = term.folded
            if key not in found:
                found[key] = _find(self._patterns[key], term.text, texts)
            return found[key]

        matches = []
        for cw in self.watches:
            if _holds(cw.tree, hits):
                positive = tuple(h for t in _positive_terms(cw.tree) for h in hits(t))
                matches.append(Match(cw.watch.id, positive))
        return matches


def _find(pattern: re.Pattern[str], label: str, texts: dict[str, FoldedText]) -> tuple[TermHit, ...]:
    out = []
    for name in DEFAULT_FIELDS:
        ft = texts.get(name)
        if ft is None:
            continue
        for m in pattern.finditer(ft.folded):
            start, end = ft.span(m.start(), m.end())
            out.append(TermHit(label, name, start, end))
    return tuple(out)


def _holds(node: Node, hits: Callable[[Term], tuple[TermHit, ...]]) -> bool:
    if isinstance(node, Term):
        return bool(hits(node))
    if isinstance(node, Not):
        return not _holds(node.child, hits)
    if isinstance(node, And):
        return all(_holds(c, hits) for c in node.children)
    assert isinstance(node, Or)
    return any(_holds(c, hits) for c in node.children)


def _positive_terms(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return []
    return [t for c in node.children for t in _positive_terms(c)]


def compile_watches(watches: Iterable[Watch], limits: Limits = Limits()) -> Matcher:
    """Compile every watch's rule; raises RuleError for the first invalid one."""
    return Matcher([CompiledWatch(w, parse_rule(w.rule, limits)) for w in watches])


def matches_text(rule: str, text: str, limits: Limits = Limits()) -> Match | None:
    """Does a rule match free text? Used by `tipoff match` and chat `/test`."""
    watch = Watch(WatchId("adhoc"), rule, (), datetime.now(timezone.utc))
    result = compile_watches([watch], limits).match_fields({"title": text})
    return result[0] if result else None
