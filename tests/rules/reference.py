"""A deliberately simple reference evaluator for watch rules, written for the tests:
every term is its own Python regex over the folded text of each field, and the tree is
evaluated directly. The compiled matcher must agree with it exactly."""

from __future__ import annotations

import re

from bot.rules.normalise import fold, written_without_spaces
from bot.rules.syntax import And, Node, Not, Or, Term


def term_regex(term: Term) -> re.Pattern[str]:
    parts = term.folded.split(" ")
    tail = r"\w*" if term.wildcard else ""
    if written_without_spaces(term.folded):
        return re.compile(r"\W+".join(map(re.escape, parts)))
    forms = [r"\W+".join(map(re.escape, parts))]
    if len(parts) > 1:
        forms.append(re.escape("".join(parts)))
    end = "" if term.wildcard else r"(?!\w)"
    return re.compile(r"(?<!\w)(?:" + "|".join(f + tail for f in forms) + ")" + end)


def occurs(term: Term, fields: dict[str, str]) -> bool:
    for name in term.fields:
        text = fields.get(name, "")
        if not text:
            continue
        if term.kind == "regex":
            if re.search(term.text, text, re.IGNORECASE if "i" in term.flags else 0):
                return True
        elif term_regex(term).search(fold(text)):
            return True
    return False


def evaluate(node: Node, fields: dict[str, str]) -> bool:
    if isinstance(node, Term):
        return occurs(node, fields)
    if isinstance(node, Not):
        return not evaluate(node.child, fields)
    if isinstance(node, And):
        return all(evaluate(c, fields) for c in node.children)
    assert isinstance(node, Or)
    return any(evaluate(c, fields) for c in node.children)
