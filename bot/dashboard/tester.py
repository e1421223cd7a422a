"""The rule tester's search over the recent entries, fast enough to answer as you type
against a week of busy feeds (bench/web.py). A rule can only match an entry holding one
of its positive terms (bot/rules/syntax.can_match), so each entry's title and summary
are kept as the matcher reads them (folded token text, bot/rules/matcher) in one long
string, where each positive term is looked up with str.find; and a rule whose terms all
search the title and summary is then decided on that same text, exactly as the matcher
would, without matching in full. Entries are folded once, when first seen. Pure data
in memory: the caller hands in the entries."""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from typing import Callable, Sequence

from bot.model import RecentEntry
from bot.rules.matcher import automaton_keys
from bot.rules.normalise import fold, token_text, written_without_spaces
from bot.rules.syntax import And, Node, Not, Or, Term, positive_terms

SEPARATOR = "\x00"
BETWEEN = "|"  # between an entry's title and its summary: no phrase spans the two
KEPT_FIELDS = frozenset({"title", "summary", "content", "tag"})  # what a recent entry holds (title, summary)

Decide = Callable[[str, str], bool]  # (title tokens, summary tokens) → does the rule match


def _simple(term: Term) -> bool:
    return term.kind != "regex" and bool(term.folded) and not written_without_spaces(term.folded) \
        and set(term.fields) <= KEPT_FIELDS


def decider(tree: Node) -> Decide | None:
    """The rule as a test on an entry's title and summary token text, when every term
    can be decided there (no regex, no field a recent entry lacks); else None."""
    if isinstance(tree, Term):
        if not _simple(tree):
            return None
        keys = automaton_keys(tree)
        in_title, in_summary = "title" in tree.fields, "summary" in tree.fields  # kept entries have no content
        return lambda t, s: (in_title and any(k in t for k in keys)) or (in_summary and any(k in s for k in keys))
    if isinstance(tree, Not):
        inner = decider(tree.child)
        return None if inner is None else (lambda t, s: not inner(t, s))
    parts = [decider(c) for c in tree.children]
    if any(p is None for p in parts):
        return None
    checks = [p for p in parts if p is not None]
    if isinstance(tree, And):
        return lambda t, s: all(p(t, s) for p in checks)
    assert isinstance(tree, Or)
    return lambda t, s: any(p(t, s) for p in checks)


class RecentText:
    def __init__(self) -> None:
        self._folded: dict[str, tuple[str, str]] = {}  # entry key → title and summary token text
        self._keys: list[str] = []  # the entries the blob holds, in order
        self._blob = ""
        self._starts: list[int] = []

    def candidates(self, tree: Node, entries: Sequence[RecentEntry]) -> list[int]:
        """Indexes of the entries (in `entries`) that hold one of the rule's positive
        terms, in order; every index when a term cannot be looked up as words (a
        regex, a script written without spaces, a field recent entries do not keep)."""
        self._refresh(entries)
        needles: set[str] = set()
        for term in positive_terms(tree):
            if not _simple(term):
                return list(range(len(entries)))
            needles.update(automaton_keys(term))
        found: set[int] = set()
        for needle in needles:
            at = self._blob.find(needle)
            while at >= 0:
                index = bisect_right(self._starts, at) - 1
                found.add(index)
                nxt = self._starts[index + 1] if index + 1 < len(self._starts) else len(self._blob)
                at = self._blob.find(needle, nxt)
        return sorted(found)

    def texts(self, entry: RecentEntry) -> tuple[str, str]:
        """The entry's title and summary as the matcher reads them."""
        found = self._folded.get(entry.key)
        return found if found is not None else _tokens(entry)

    def _refresh(self, entries: Sequence[RecentEntry]) -> None:
        keys = [e.key for e in entries]
        if keys == self._keys:
            return
        folded = {}
        for entry in entries:
            folded[entry.key] = self._folded.get(entry.key) or _tokens(entry)
        self._folded = folded  # entries no longer recent are dropped
        parts = [f"{t}{BETWEEN}{s}" for t, s in (folded[k] for k in keys)]
        self._blob = SEPARATOR.join(parts)
        self._starts = [0, *accumulate(len(p) + 1 for p in parts)][:len(parts)]
        self._keys = keys


def _tokens(entry: RecentEntry) -> tuple[str, str]:
    return token_text(fold(entry.title)), token_text(fold(entry.summary))
