"""Rule text → tree. The language is the one people know from search boxes:
words (AND implied), "exact phrases", OR or |, -word or NOT word, and parentheses.
Errors point at a 1-based column so a chat user can find the mistake."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from bot.rules.normalise import fold, words, written_without_spaces


class RuleError(ValueError):
    def __init__(self, column: int, message: str) -> None:
        super().__init__(f"{message} at column {column}")
        self.column = column
        self.message = message


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # as the user wrote it
    phrase: bool
    column: int

    @property
    def folded(self) -> str:
        return " ".join(words(self.text)) if not written_without_spaces(self.text) else fold(self.text)


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
    kind: str  # "(", ")", "or", "and", "not", "-", "word", "phrase"
    text: str
    column: int


_SPECIAL = set('()"|')


def _tokenise(rule: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(rule)
    while i < n:
        ch = rule[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(_Token(ch, ch, col))
            i += 1
        elif ch == "|":
            tokens.append(_Token("or", ch, col))
            i += 1
        elif ch in "\"\u201c\u201d":
            end = _closing_quote(rule, i + 1)
            if end < 0:
                raise RuleError(col, "unclosed quote")
            tokens.append(_Token("phrase", rule[i + 1 : end], col))
            i = end + 1
        elif ch == "-" and i + 1 < n and not rule[i + 1].isspace():
            tokens.append(_Token("-", ch, col))
            i += 1
        else:
            j = i
            while j < n and not rule[j].isspace() and rule[j] not in _SPECIAL and rule[j] not in "\u201c\u201d":
                j += 1
            word = rule[i:j]
            keyword = {"OR": "or", "AND": "and", "NOT": "not"}.get(word)
            tokens.append(_Token(keyword or "word", word, col))
            i = j
    return tokens


def _closing_quote(rule: str, start: int) -> int:
    for j in range(start, len(rule)):
        if rule[j] in "\"\u201c\u201d":
            return j
    return -1


class _Parser:
    def __init__(self, rule: str, limits: Limits) -> None:
        self.tokens = _tokenise(rule)
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
            raise RuleError(1, "empty rule: expected a word or a \"phrase\"")
        node = self.or_expr(depth=0)
        tok = self.peek()
        if tok is not None:
            if tok.kind == ")":
                raise RuleError(tok.column, 'unbalanced ")"')
            raise RuleError(tok.column, f"unexpected {tok.text!r}")
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
            raise RuleError(self.end_column, "expected a word or a \"phrase\" after the last operator")
        if tok.kind == "(":
            if depth + 1 > self.limits.max_depth:
                raise RuleError(tok.column, f"parentheses nested deeper than {self.limits.max_depth}")
            self.take()
            node = self.or_expr(depth + 1)
            close = self.peek()
            if close is None or close.kind != ")":
                raise RuleError(tok.column, 'unclosed "(": expected ")"')
            self.take()
            return node
        if tok.kind in ("word", "phrase"):
            self.take()
            return self.term(tok)
        if tok.kind == ")":
            raise RuleError(tok.column, 'unbalanced ")"')
        raise RuleError(tok.column, f"expected a word or a \"phrase\" before {tok.text!r}")

    def term(self, tok: _Token) -> Term:
        self.terms += 1
        if self.terms > self.limits.max_terms:
            raise RuleError(tok.column, f"more than {self.limits.max_terms} terms")
        term = Term(tok.text, tok.kind == "phrase", tok.column)
        if not term.folded.strip():
            what = "empty phrase" if term.phrase else f"{tok.text!r} has no letters or digits to match"
            raise RuleError(tok.column, what)
        return term


def parse_rule(rule: str, limits: Limits = Limits()) -> Node:
    """Parse rule text into a tree, or raise RuleError naming the column."""
    if len(rule) > limits.max_length:
        raise RuleError(limits.max_length + 1, f"rule longer than {limits.max_length} characters")
    tree = _Parser(rule, limits).parse()
    if not _can_match(tree):
        raise RuleError(1, "a rule needs at least one term that is not excluded")
    return tree


def _can_match(node: Node) -> bool:
    """False when the rule only excludes (`-rumor`), which would match everything."""
    if isinstance(node, Term):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_can_match(c) for c in node.children)
    return all(_can_match(c) for c in node.children)


def describe(node: Node) -> str:
    """The tree written back out, fully parenthesised: how a rule was understood."""
    if isinstance(node, Term):
        return f'"{node.text}"' if node.phrase else node.text
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
