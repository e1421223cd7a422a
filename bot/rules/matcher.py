"""Entry → the watches it fires, at a cost that barely grows with the number of watches.

Every word and phrase of every active watch goes into one Aho-Corasick automaton over
"token text" (folded words joined by single spaces, padded with a space at each end),
so each field of an entry is scanned once whatever the number of watches, and the
padding makes every hit a whole-word hit. Each watch is indexed under a few *trigger*
terms, chosen so that the watch cannot match unless one of them occurred (for an AND,
the most specific child; for an OR, all children); only watches whose triggers
occurred have their boolean tree evaluated. Regex terms run through RE2.

Pure: no I/O. Adding or removing a watch costs one rule parse and a lazy rebuild of
the automaton (milliseconds), not a recompilation of every rule."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

import ahocorasick

from bot.model import Entry, Match, TermHit, Watch, WatchId
from bot.rules.normalise import WORD, fold, original_span, token_text, written_without_spaces
from bot.rules.regex import compile_regex
from bot.rules.syntax import DEFAULT_FIELDS, FIELDS, And, Limits, Node, Not, Or, Term, can_match, parse_rule, positive_terms, terms_of

# A compiled tree as nested tuples, cheap to walk: (0, term_id, fields) | (1, child) |
# (2, children) for AND | (3, children) for OR.
Program = tuple[Any, ...]
_TERM, _NOT, _AND, _OR = 0, 1, 2, 3


def entry_fields(entry: Entry, feed: str = "") -> dict[str, str]:
    """The searchable fields of an entry. `feed` is the feed's title (and address)."""
    return {
        "title": entry.title,
        "summary": entry.summary,
        "content": entry.content,
        "tag": "\n".join(entry.tags),
        "author": "\n".join(entry.authors),
        "feed": feed,
        "url": entry.link or entry.url,
    }


def _term_key(term: Term) -> tuple[str, str, bool, str]:
    return (term.kind, term.folded, term.wildcard, term.flags)


def automaton_keys(term: Term) -> list[str]:
    """The strings whose presence in token text means the term occurred."""
    folded = term.folded
    if written_without_spaces(folded):
        return [folded]  # no word boundaries in these scripts: a substring is a match
    forms = [folded]
    if " " in folded:  # "lady gaga" also matches #LadyGaga and @ladygaga
        forms.append(folded.replace(" ", ""))
    tail = "" if term.wildcard else " "
    return [" " + f + tail for f in forms]


@dataclass(frozen=True, slots=True)
class CompiledWatch:
    watch: Watch
    tree: Node
    program: Program
    triggers: frozenset[int]
    positive: tuple[tuple[int, Term], ...]  # terms reported when the watch fires
    regexes: frozenset[int]  # regex terms its tree needs evaluated


@dataclass(slots=True)
class _Scanned:
    """One entry's fields, prepared once and scanned once."""

    texts: Mapping[str, str]
    folded: dict[str, str]
    tokens: dict[str, str]
    hits: dict[int, list[tuple[str, int, int]]]  # term id → (field, start, end) in token text
    regex_hits: dict[int, list[tuple[str, int, int]]]  # term id → (field, start, end) in the original


class Matcher:
    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._watches: dict[WatchId, CompiledWatch] = {}
        self._term_ids: dict[tuple[str, str, bool, str], int] = {}
        self._terms: list[Term] = []
        self._triggered: dict[int, set[WatchId]] = {}
        self._always: set[WatchId] = set()  # watches only a regex can trigger
        # Terms live in a main automaton plus a small one for terms added since it was
        # built, so adding a watch costs a rebuild of the small one only; the two merge
        # when the small one grows past a fraction of the main one.
        self._main: ahocorasick.Automaton | None = None
        self._main_upto = 0  # term ids below this are in the main automaton
        self._delta: ahocorasick.Automaton | None = None
        self._stale = 0

    def __len__(self) -> int:
        return len(self._watches)

    def __contains__(self, watch_id: object) -> bool:
        return watch_id in self._watches

    # -- building ----------------------------------------------------------

    def add(self, watch: Watch) -> CompiledWatch:
        """Compile and index one watch; raises RuleError if its rule is invalid."""
        tree = parse_rule(watch.rule, self.limits)
        if watch.id in self._watches:
            self.remove(watch.id)
        program = self._program(tree)
        triggers = frozenset(self._term_id(t) for t in _triggers(tree))
        positive = tuple((self._term_id(t), t) for t in positive_terms(tree))
        regexes = frozenset(self._term_id(t) for t in terms_of(tree) if t.kind == "regex")
        compiled = CompiledWatch(watch, tree, program, triggers, positive, regexes)
        self._watches[watch.id] = compiled
        if any(self._terms[t].kind == "regex" for t in triggers):
            self._always.add(watch.id)
        else:
            for t in triggers:
                self._triggered.setdefault(t, set()).add(watch.id)
        return compiled

    def remove(self, watch_id: WatchId) -> None:
        compiled = self._watches.pop(watch_id, None)
        if compiled is None:
            return
        self._always.discard(watch_id)
        for t in compiled.triggers:
            self._triggered.get(t, set()).discard(watch_id)
        self._stale += 1
        if self._stale > max(len(self._watches), 64):
            self._rebuild_from_live()

    def _rebuild_from_live(self) -> None:
        live = [c.watch for c in self._watches.values()]
        self.__init__(self.limits)  # type: ignore[misc]
        for w in live:
            self.add(w)

    def _term_id(self, term: Term) -> int:
        key = _term_key(term)
        tid = self._term_ids.get(key)
        if tid is None:
            tid = len(self._terms)
            self._term_ids[key] = tid
            self._terms.append(term)
            if term.kind != "regex":
                self._delta = None  # a new string to find: rebuild the small automaton lazily
        return tid

    def _program(self, node: Node) -> Program:
        if isinstance(node, Term):
            return (_TERM, self._term_id(node), frozenset(node.fields))
        if isinstance(node, Not):
            return (_NOT, self._program(node.child))
        op = _AND if isinstance(node, And) else _OR
        return (op, tuple(self._program(c) for c in node.children))

    def _automata(self) -> list[ahocorasick.Automaton]:
        if self._main is None or len(self._terms) - self._main_upto > max(256, self._main_upto // 8):
            self._main, self._main_upto, self._delta = self._build(0, len(self._terms)), len(self._terms), None
        if self._delta is None:
            self._delta = self._build(self._main_upto, len(self._terms))
        return [a for a in (self._main, self._delta) if len(a)]

    def _build(self, first: int, last: int) -> ahocorasick.Automaton:
        groups: dict[str, list[int]] = {}
        for tid in range(first, last):
            term = self._terms[tid]
            if term.kind != "regex":
                for key in automaton_keys(term):
                    groups.setdefault(key, []).append(tid)
        automaton = ahocorasick.Automaton()
        for key, tids in groups.items():
            automaton.add_word(key, (len(key), tuple(tids)))
        if groups:
            automaton.make_automaton()
        return automaton

    # -- matching ------------------------------------------------------------

    def match(self, entry: Entry, feed: str = "") -> list[Match]:
        return self.match_fields(entry_fields(entry, feed))

    def match_fields(self, fields: Mapping[str, str]) -> list[Match]:
        """The watches that fire on these fields (title, summary, content, tag, author,
        feed, url), each with its matched terms, fields and spans in the original text."""
        if not self._watches:
            return []
        scanned = self._scan(fields)
        candidates: set[WatchId] = set(self._always)
        for tid in scanned.hits:
            found = self._triggered.get(tid)
            if found:
                candidates |= found
        for wid in candidates:
            self._run_regexes(self._watches[wid].regexes, scanned)
        present = {tid: {f for f, _, _ in spots} for tid, spots in scanned.hits.items()}
        present.update({tid: {f for f, _, _ in spots} for tid, spots in scanned.regex_hits.items() if spots})
        matches = []
        for wid in candidates:
            compiled = self._watches[wid]
            if _holds(compiled.program, present):
                matches.append(Match(wid, self._report(compiled, scanned)))
        return matches

    def _scan(self, fields: Mapping[str, str]) -> _Scanned:
        automata = self._automata()
        scanned = _Scanned(fields, {}, {}, {}, {})
        if not automata:
            return scanned
        hits = scanned.hits
        for name, text in fields.items():
            if not text:
                continue
            folded = scanned.folded[name] = fold(text)
            tokens = scanned.tokens[name] = token_text(folded)
            for automaton in automata:
                for end, (length, tids) in automaton.iter(tokens):
                    for tid in tids:
                        hits.setdefault(tid, []).append((name, end + 1 - length, end + 1))
        return scanned

    def _run_regexes(self, tids: Iterable[int], scanned: _Scanned) -> None:
        """Run regex terms (once per entry each) on the original text of every field."""
        for tid in tids:
            if tid in scanned.regex_hits:
                continue
            term = self._terms[tid]
            pattern = compile_regex(term.text, term.flags)
            spots = scanned.regex_hits[tid] = []  # an empty list still records that it ran
            for name in FIELDS:
                text = scanned.texts.get(name)
                if text:
                    spots.extend((name, m.start(), m.end()) for m in pattern.finditer(text))

    def _report(self, compiled: CompiledWatch, scanned: _Scanned) -> tuple[TermHit, ...]:
        out: list[TermHit] = []
        for tid, term in compiled.positive:
            if term.kind == "regex":
                out.extend(TermHit(term.label, name, s, e) for name, s, e in scanned.regex_hits.get(tid, ())
                           if name in term.fields)
                continue
            for name, start, end in scanned.hits.get(tid, ()):
                if name in term.fields:
                    s, e = _original_span(scanned, name, start, end, term)
                    out.append(TermHit(term.label, name, s, e))
        return tuple(dict.fromkeys(out))


def _holds(program: Program, present: Mapping[int, set[str]]) -> bool:
    op = program[0]
    if op == _TERM:
        fields = present.get(program[1])
        return fields is not None and not fields.isdisjoint(program[2])
    if op == _NOT:
        return not _holds(program[1], present)
    if op == _AND:
        return all(_holds(c, present) for c in program[1])
    return any(_holds(c, present) for c in program[1])


def _original_span(scanned: _Scanned, name: str, start: int, end: int, term: Term) -> tuple[int, int]:
    """Token-text span → span in the field's original text."""
    tokens = scanned.tokens[name]
    if tokens[start] == " ":
        start += 1
    if term.wildcard:  # the hit ends where the wildcard's word ends
        nxt = tokens.find(" ", end)
        end = nxt if nxt >= 0 else len(tokens)
    elif tokens[end - 1] == " ":
        end -= 1
    folded = scanned.folded[name]
    spans = [m.span() for m in WORD.finditer(folded)]
    starts: list[int] = []
    pos = 1
    for s, e in spans:
        starts.append(pos)
        pos += e - s + 1
    i = bisect.bisect_right(starts, start) - 1
    j = bisect.bisect_right(starts, end - 1) - 1
    if i < 0 or j < 0:
        return 0, 0
    f_start = spans[i][0] + (start - starts[i])
    f_end = spans[j][0] + (end - starts[j])
    return original_span(scanned.texts[name], f_start, f_end)


def _specificity(terms: list[Term]) -> tuple[int, float]:
    """Lower is better: a trigger set that rarely occurs. Phrases and long words are
    rarer than short words; regexes cannot be looked up at all."""
    regex = any(t.kind == "regex" for t in terms)
    cost = sum(1.0 / (len(t.folded) * (4 if " " in t.folded else 1) * (0.5 if t.wildcard else 1))
               for t in terms if t.kind != "regex")
    return (int(regex), cost)


def _triggers(node: Node) -> list[Term]:
    """A set of positive terms of which at least one occurs in any entry the rule
    matches (sound because parse_rule refuses rules that only match by absence)."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Or):
        return [t for c in node.children for t in _triggers(c)]
    assert isinstance(node, And)
    options = [_triggers(c) for c in node.children if can_match(c)]
    return min(options, key=_specificity)


def compile_watches(watches: Iterable[Watch], limits: Limits = Limits()) -> Matcher:
    """Compile every watch; raises RuleError for the first invalid one."""
    matcher = Matcher(limits)
    for w in watches:
        matcher.add(w)
    return matcher


def matches_text(rule: str, text: str, limits: Limits = Limits()) -> Match | None:
    """Does a rule match free text (searched as a title)? For `tipoff match` and `/test`."""
    watch = Watch(WatchId("adhoc"), rule, (), datetime.now(timezone.utc))
    result = compile_watches([watch], limits).match_fields({"title": text})
    return result[0] if result else None


__all__ = ["Matcher", "CompiledWatch", "compile_watches", "matches_text", "entry_fields", "DEFAULT_FIELDS"]
