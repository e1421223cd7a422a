"""Whether two headlines report the same story, and whether a later one adds a fact.

The measure weighs what is shared by how rare each term is (a word most recent headlines
use says little; a name, a place or a number says a lot): the weight a pair shares,
against the lighter side's total (one headline may say more than the other: "Obama
signs bill" is in "President Obama signs the bill into law") and against both (so two
long headlines sharing a name alone stay apart). Numbers that contradict ("3 dead" / "30
dead", "Day One" / "Day Two"), and so do names where each headline has one the other
lacks ("Lady Gaga to tour" / "Madonna to tour"), whatever else they share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import AbstractSet, Callable, Literal

from bot.stories.headline import Headline, is_character_pair

# Tuned on headline pairs built from ../shared/corpus and on paraphrased news sentences
# (tests/stories/); never on the data the issue checks the result with.
MIN_OVERLAP = 0.72  # shared weight / the lighter headline's weight
MIN_DICE = 0.5  # 2 x shared weight / both headlines' weight
STRONG_DICE = 0.68  # this much in common is the same story even where one says more
MIN_SHARED = 2  # distinct terms in common (character pairs of unspaced scripts count half)

Verdict = Literal["copy", "development", "different"]


@dataclass(frozen=True, slots=True)
class Comparison:
    verdict: Verdict
    score: float  # 0..1, the weighted share of what the headlines say alike
    why: str  # one line: what they share, or what keeps them apart


Weight = Callable[[str], float]


def flat(_term: str) -> float:
    return 1.0


def idf_weight(document_frequency: Callable[[str], int], documents: int) -> Weight:
    """Inverse document frequency over the recent stories: log((N + 10) / (df + 1))."""
    def weight(term: str) -> float:
        if term.startswith("#"):  # numbers are as specific as the rarest word
            return math.log(documents + 10)
        return math.log((documents + 10) / (document_frequency(term) + 1))
    return weight


def compare(earlier: Headline, later: Headline, weight: Weight = flat,
            story_facts: AbstractSet[str] | None = None, story_numbers: AbstractSet[str] | None = None) -> Comparison:
    """The verdict on `later` given `earlier`: a copy (same story, nothing new), a
    development (same story, a new kind of fact or a new number), or different.
    `story_facts`/`story_numbers`: everything the story has said so far (default: what
    `earlier` says)."""
    a, b = earlier.terms, later.terms
    shared = a & b
    if not shared:
        return Comparison("different", 0.0, "nothing in common")
    na, nb = earlier.numbers, later.numbers
    if na and nb and not (na <= nb or nb <= na):
        odd = sorted(na ^ nb)
        return Comparison("different", 0.0, f"numbers differ: {', '.join(odd[:4])}")
    if (only_a := earlier.names - b) and (only_b := later.names - a):
        return Comparison("different", 0.0, f"names differ: {', '.join(sorted(only_a | only_b)[:4])}")
    wa = sum(weight(t) for t in a)
    wb = sum(weight(t) for t in b)
    ws = sum(weight(t) for t in shared)
    if wa <= 0 or wb <= 0:
        return Comparison("different", 0.0, "nothing to compare")
    overlap = ws / min(wa, wb)
    dice = 2 * ws / (wa + wb)
    pairs = sum(1 for t in shared if is_character_pair(t))  # pairs overlap: two count as one term
    same = len(shared) - pairs + pairs / 2 >= MIN_SHARED and ((overlap >= MIN_OVERLAP and dice >= MIN_DICE) or dice >= STRONG_DICE)
    score = round((overlap + dice) / 2, 3)
    if not same:
        return Comparison("different", score, f"too little in common ({_terms(shared)})")
    facts = story_facts if story_facts is not None else earlier.developments
    numbers = story_numbers if story_numbers is not None else na
    new_facts = later.developments - facts
    new_numbers = nb - numbers
    if new_facts:
        return Comparison("development", score, f"a new fact: {', '.join(sorted(new_facts))}")
    if new_numbers:
        return Comparison("development", score, f"a new number: {', '.join(sorted(new_numbers)[:3])}")
    return Comparison("copy", score, f"same story ({_terms(shared)})")


def _terms(terms: frozenset[str]) -> str:
    shown = sorted((t.lstrip("#") for t in terms), key=lambda t: (-len(t), t))[:5]
    return ", ".join(shown)
