"""The rule tester's search agrees with the matcher: the entries it finds (and counts
without matching in full) are exactly those the watch would fire on, for rules of every
shape, over real feeds' entries and hostile ones alike."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.dashboard.tester import RecentText, decider
from bot.model import FeedId, RecentEntry, Watch, WatchId
from bot.rules.matcher import Matcher
from bot.rules.syntax import parse_rule

TITLES = ["Lady Gaga and Britney Spears are preparing a duet", "#LadyGaga teases a duet", "Beyoncé tour dates",
          "BEYONCE announces TOUR", "Duets of the year", "duet-ready: Gaga", "Rumor: Gaga duet", "Madonna tour",
          "Gaga", "lady\u00a0gaga's new single", "東京で大規模な火災", "Spears | Gaga – duet?"]
RULES = ['"lady gaga" duet', "gaga -rumor", "duet*", "beyonce AND tour", '"lady gaga" OR madonna', "title:duet",
         "summary:tour", "(gaga OR spears) AND NOT madonna", "/gag[ae]/", "火災", "content:gaga", "feed:pop gaga",
         "gaga AND (duet OR single)"]


def entries() -> list[RecentEntry]:
    out = []
    for i, title in enumerate(TITLES):
        summary = TITLES[(i * 5 + 3) % len(TITLES)] + " — more inside"
        out.append(RecentEntry(f"k{i}", FeedId("f1"), 1000.0 + i, title, summary))
    return out


@pytest.mark.parametrize("rule", RULES)
def test_what_the_tester_finds_and_counts_is_what_the_matcher_fires_on(rule):
    kept = entries()
    matcher = Matcher()
    matcher.add(Watch(WatchId("t"), rule, (), datetime.now(timezone.utc)))
    fires = [i for i, e in enumerate(kept) if matcher.match(e.entry(), "Pop Daily")]
    text = RecentText()
    tree = parse_rule(rule)
    found = text.candidates(tree, kept)
    assert set(fires) <= set(found), rule  # nothing it would fire on is left out
    decide = decider(tree)
    if decide is not None:
        assert [i for i in found if decide(*text.texts(kept[i]))] == fires, rule


def test_the_folded_text_follows_the_recent_entries():
    text = RecentText()
    kept = entries()
    tree = parse_rule("madonna")
    assert [kept[i].key for i in text.candidates(tree, kept)] == [e.key for e in kept if "Madonna" in e.title + e.summary]
    later = [e for e in kept[8:] if "Madonna" not in e.title + e.summary] + [
        RecentEntry("new", FeedId("f1"), 2000.0, "Madonna duet")]
    assert [later[i].key for i in text.candidates(tree, later)] == ["new"]  # the old ones are gone from the text
