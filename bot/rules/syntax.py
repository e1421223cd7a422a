"""Rule text → tree. The language is the one people know from search boxes (Google
Alerts, FreshRSS filters):

    gaga duet                 words, AND implied        "britney spears"   exact phrase
    gaga OR britney, a | b    either                    -rumor, NOT rumor  exclusion
    (a OR b) c                grouping                  duet*              suffix wildcard
    title:duet  -url:tabloid.example  title:"lady gaga"  field prefixes
    /gaga+/i                  a regular expression (RE2: linear time, cannot stall)

Errors point at a 1-based column so a chat user can find the mistake."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field as dataclass_field
from typing import Union

from bot.i18n import _
from bot.rules.normalise import words
from bot.rules.regex import compile_regex

FIELDS = ("title", "summary", "content", "author", "tag", "feed", "url")
DEFAULT_FIELDS = ("title", "summary", "content", "tag")  # searched by a term without a prefix
MIN_WILDCARD_PREFIX = 2


class RuleError(ValueError):
    def __init__(self, column: int, message: str) -> None:
        super().__init__(_("{problem} at column {column}").format(problem=message, column=column))
        self.column = column
        self.message = message


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # as the user wrote it, without quotes, slashes, prefix or *
    kind: str  # "word", "phrase" or "regex"
    column: int
    field: str | None = None
    wildcard: bool = False
    flags: str = ""  # regex flags, e.g. "i"
    # the term as folded words joined by single spaces (regexes stay as written)
    folded: str = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        folded = self.text if self.kind == "regex" else " ".join(words(self.text))
        object.__setattr__(self, "folded", folded)

    @property
    def phrase(self) -> bool:
        return self.kind == "phrase"

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field,) if self.field else DEFAULT_FIELDS

    @property
    def label(self) -> str:
        """How a matched term is shown: its words (with * if a wildcard), or /regex/."""
        if self.kind == "regex":
            return f"/{self.text}/{self.flags}"
        return self.text + ("*" if self.wildcard else "")

    def __str__(self) -> str:
        prefix = f"{self.field}:" if self.field else ""
        star = "*" if self.wildcard else ""
        if self.kind == "regex":
            return f"{prefix}/{self.text}/{self.flags}"
        if self.kind == "phrase":
            return f'{prefix}"{self.text}{star}"'
        return f"{prefix}{self.text}{star}"


@dataclass(frozen=True, slots=True)
class Not:
    child: "Node"


@dataclass(frozen=True, slots=True)
class And:
    children: tuple["Node", ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple["Node", ...]


Node = Union[Term, Not, And, Or]


@dataclass(frozen=True, slots=True)
class Limits:
    max_length: int = 500
    max_terms: int = 50
    max_depth: int = 10


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(", ")", "or", "and", "not", "-", "term"
    text: str
    column: int
    term: Term | None = None


_QUOTES = "\"\u201c\u201d"
_STOP = set("()|") | set(_QUOTES)
_QUOTE = re.compile("[" + _QUOTES + "]")
_FIELD_PREFIX = re.compile(r"([A-Za-z]+):(?=\S)")


class _Tokeniser:
    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.i = 0
        self.tokens: list[_Token] = []

    def run(self) -> list[_Token]:
        rule, n = self.rule, len(self.rule)
        while self.i < n:
            ch = rule[self.i]
            col = self.i + 1
            if ch.isspace():
                self.i += 1
            elif ch in "()":
                self.tokens.append(_Token(ch, ch, col))
                self.i += 1
            elif ch == "|":
                self.tokens.append(_Token("or", ch, col))
                self.i += 1
            elif ch == "-" and self.i + 1 < n and not rule[self.i + 1].isspace() and rule[self.i + 1] != "-":
                self.tokens.append(_Token("-", ch, col))
                self.i += 1
            else:
                self.tokens.append(self.term())
        return self.tokens

    def term(self) -> _Token:
        rule, start = self.rule, self.i
        col = start + 1
        field = None
        m = _FIELD_PREFIX.match(rule, start)
        if m:
            name = m.group(1).lower()
            field = _field_name(name, col)
            self.i = m.end()
        ch = rule[self.i]
        if ch in _QUOTES:
            return self.phrase(col, field)
        if ch == "/":
            return self.regex(col, field)
        j = self.i
        while j < len(rule) and not rule[j].isspace() and rule[j] not in _STOP:
            j += 1
        text = rule[self.i : j]
        self.i = j
        if field is None and text in ("OR", "AND", "NOT"):
            return _Token(text.lower(), text, col)
        return _Token("term", rule[start:j], col, _word_term(text, col, field, "word"))

    def phrase(self, col: int, field: str | None) -> _Token:
        open_at = self.i
        found = _QUOTE.search(self.rule, open_at + 1)
        end = found.start() if found else -1
        if end < 0:
            raise RuleError(open_at + 1, _("unclosed quote"))
        self.i = end + 1
        return _Token("term", self.rule[col - 1 : end + 1], col,
                      _word_term(self.rule[open_at + 1 : end], open_at + 1, field, "phrase"))

    def regex(self, col: int, field: str | None) -> _Token:
        open_at = self.i
        j = open_at + 1
        while j < len(self.rule) and self.rule[j] != "/":
            j += 2 if self.rule[j] == "\\" else 1
        if j >= len(self.rule):
            raise RuleError(open_at + 1, _("unclosed regex: expected a closing /"))
        pattern = self.rule[open_at + 1 : j]
        k = j + 1
        while k < len(self.rule) and self.rule[k].isalpha():
            k += 1
        flags = self.rule[j + 1 : k]
        if set(flags) - {"i"}:
            raise RuleError(j + 2, _('unknown regex flag "{flags}": only /…/i (ignore case) is supported').format(
                flags=flags))
        if not pattern:
            raise RuleError(open_at + 1, _("empty regex"))
        self.i = k
        try:
            compile_regex(pattern, flags)
        except ValueError as exc:
            raise RuleError(open_at + 1, str(exc)) from None
        return _Token("term", self.rule[col - 1 : k], col, Term(pattern, "regex", col, field, False, flags))


def _field_name(name: str, col: int) -> str:
    if name in FIELDS:
        return name
    if name == "tags":
        return "tag"
    close = difflib.get_close_matches(name, FIELDS, n=1, cutoff=0.6)
    if close:
        raise RuleError(col, _('unknown field "{name}:" — did you mean "{field}:"?').format(
            name=name, field=close[0]))
    raise RuleError(col, _('unknown field "{name}:" (fields: {fields}; put a word with a colon in quotes)')
                    .format(name=name, fields=", ".join(FIELDS)))


def _word_term(text: str, col: int, field: str | None, kind: str) -> Term:
    wildcard = text.endswith("*")
    core = text.rstrip("*") if wildcard else text
    if "*" in core:
        raise RuleError(col + core.index("*"), _("a * can only end a word (e.g. duet*)"))
    term = Term(core, kind, col, field, wildcard)
    folded = term.folded
    if not folded:
        what = _("empty phrase") if kind == "phrase" else _("{text} has no letters or digits to match").format(
            text=repr(text))
        raise RuleError(col, what)
    if wildcard and len(folded.split(" ")[-1]) < MIN_WILDCARD_PREFIX:
        raise RuleError(col, _("a wildcard needs at least {count} letters before *").format(count=MIN_WILDCARD_PREFIX))
    return term


class _Parser:
    def __init__(self, rule: str, limits: Limits) -> None:
        self.tokens = _Tokeniser(rule).run()
        self.pos = 0
        self.end_column = len(rule) + 1
        self.limits = limits
        self.terms = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def parse(self) -> Node:
        if not self.tokens:
            raise RuleError(1, _('empty rule: expected a word or a "phrase"'))
        node = self.or_expr(depth=0)
        tok = self.peek()
        if tok is not None:
            if tok.kind == ")":
                raise RuleError(tok.column, _('unbalanced ")"'))
            raise RuleError(tok.column, _("unexpected {text}").format(text=repr(tok.text)))
        return node

    def or_expr(self, depth: int) -> Node:
        children = [self.and_expr(depth)]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.take()
            children.append(self.and_expr(depth))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self, depth: int) -> Node:
        children = [self.unary(depth)]
        while (tok := self.peek()) is not None and tok.kind not in ("or", ")"):
            if tok.kind == "and":
                self.take()
            children.append(self.unary(depth))
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self, depth: int) -> Node:
        tok = self.peek()
        if tok is not None and tok.kind in ("-", "not"):
            self.take()
            return Not(self.unary(depth))
        return self.primary(depth)

    def primary(self, depth: int) -> Node:
        tok = self.peek()
        if tok is None:
            raise RuleError(self.end_column, _('expected a word or a "phrase" after the last operator'))
        if tok.kind == "(":
            if depth + 1 > self.limits.max_depth:
                raise RuleError(tok.column, _("parentheses nested deeper than {depth}").format(
                    depth=self.limits.max_depth))
            self.take()
            node = self.or_expr(depth + 1)
            close = self.peek()
            if close is None or close.kind != ")":
                raise RuleError(tok.column, _('unclosed "(": expected ")"'))
            self.take()
            return node
        if tok.kind == "term":
            self.take()
            self.terms += 1
            if self.terms > self.limits.max_terms:
                raise RuleError(tok.column, _("more than {count} terms").format(count=self.limits.max_terms))
            assert tok.term is not None
            return tok.term
        if tok.kind == ")":
            raise RuleError(tok.column, _('unbalanced ")"'))
        raise RuleError(tok.column, _('expected a word or a "phrase" before {text}').format(text=repr(tok.text)))


def parse_rule(rule: str, limits: Limits = Limits()) -> Node:
    """Parse rule text into a tree, or raise RuleError naming the column."""
    if len(rule) > limits.max_length:
        raise RuleError(limits.max_length + 1, _("rule longer than {count} characters").format(count=limits.max_length))
    tree = _Parser(rule, limits).parse()
    if not can_match(tree):
        raise RuleError(1, _("a rule needs at least one term that is not excluded"))
    return tree


def can_match(node: Node) -> bool:
    """False when a rule could only match by what is absent (`-rumor`, `a OR -b`): such
    rules would fire on nearly everything, so they are refused. When this holds, a rule
    can only match an entry in which one of its positive terms occurs."""
    if isinstance(node, Term):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(can_match(c) for c in node.children)
    return all(can_match(c) for c in node.children)


def describe(node: Node) -> str:
    """The tree written back out, fully parenthesised: how a rule was understood."""
    if isinstance(node, Term):
        return str(node)
    if isinstance(node, Not):
        return f"NOT {describe(node.child)}"
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(describe(c) for c in node.children) + ")"


def terms_of(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return terms_of(node.child)
    return [t for c in node.children for t in terms_of(c)]


def positive_terms(node: Node) -> list[Term]:
    """Terms whose presence can make the rule match (not under a NOT)."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return []
    return [t for c in node.children for t in positive_terms(c)]

