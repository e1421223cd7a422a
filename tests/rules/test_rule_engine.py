"""The rule engine: fields, wildcards, regexes, incremental updates, and agreement with
the reference evaluator on random rules and texts."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.model import Entry, Watch
from bot.rules.matcher import Matcher, compile_watches, matches_text
from bot.rules.syntax import RuleError, parse_rule
from tests.factories import watch
from tests.rules.reference import evaluate

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def entry(title="", summary="", content="", tags=(), authors=(), link=""):
    return Entry("f1", "1", link, link, title, summary, content, tuple(authors), tuple(tags))


def fires(rule, e, feed=""):
    return bool(compile_watches([watch(rule, id="w")]).match(e, feed))


def test_field_prefixes_restrict_where_a_term_counts():
    e = entry(title="Lady Gaga news", summary="a duet is coming", tags=["Pop"], authors=["Jo Smith"],
              link="https://tabloid.example/gaga")
    assert fires("title:gaga", e) and not fires("title:duet", e)
    assert fires("summary:duet", e) and fires('title:"lady gaga"', e)
    assert fires("tag:pop", e) and fires("author:smith", e) and not fires("smith", e)  # author only by prefix
    assert fires("url:tabloid.example", e) and not fires("gaga -url:tabloid.example", e)
    assert fires("feed:popwire", e, feed="PopWire https://popwire.example/feed")
    assert not fires("feed:popwire", e)


def test_wildcards_match_word_prefixes():
    assert matches_text("duet*", "two duets tonight")
    assert matches_text("duet*", "a duet")
    assert not matches_text("duet*", "an unduetted thing")
    assert matches_text('"lady ga*"', "Lady Gaga!")
    assert not matches_text("gaga -rumor*", "Gaga rumors denied")


def test_regex_terms():
    assert matches_text("/ga+ga/i", "GAAAGA")
    assert not matches_text("/ga+ga/", "GAAAGA")
    assert matches_text("britney /duet(s)?/", "Britney duets")
    assert not matches_text("britney /duet(s)?/", "Britney solo")
    m = matches_text("/B.itney/", "Hi Britney")
    assert m is not None and m.hits[0].start == 3 and m.hits[0].end == 10


def test_a_hostile_regex_cannot_stall_matching():
    matcher = compile_watches([watch("/(a+)+$/", id="w")])
    text = "a" * 200_000 + "!"
    done = []
    worker = threading.Thread(target=lambda: done.append(matcher.match_fields({"title": text})))
    worker.start()
    worker.join(timeout=30)  # backtracking engines take longer than the universe's age here
    assert done == [[]], "the regex stalled the matcher"


def test_the_example_rule_from_the_issue():
    rule = '("lady gaga" OR gaga) AND ("britney spears" OR britney) duet -rumor*'
    assert matches_text(rule, "Gaga and Britney confirm duet")
    assert not matches_text(rule, "Gaga and Britney duet rumors")
    assert not matches_text(rule, "Gagarin and Britney duet")


def test_match_reports_fields_and_spans_in_the_original_text():
    e = entry(title="BEYONCÉ and #LadyGaga", summary="Une duète? A duet!")
    m = compile_watches([watch('beyonce "lady gaga" duet*', id="w")]).match(e)[0]
    got = {(h.term, h.field, (e.title if h.field == "title" else e.summary)[h.start:h.end]) for h in m.hits}
    assert got == {("beyonce", "title", "BEYONCÉ"), ("lady gaga", "title", "LadyGaga"),
                   ("duet*", "summary", "duète"), ("duet*", "summary", "duet")}


def test_watches_can_be_added_and_removed_incrementally():
    matcher = Matcher()
    matcher.add(watch("gaga", id="a"))
    assert [m.watch_id for m in matcher.match(entry("Gaga"))] == ["a"]
    matcher.add(watch("britney", id="b"))
    assert {m.watch_id for m in matcher.match(entry("Gaga and Britney"))} == {"a", "b"}
    matcher.remove("a")
    assert [m.watch_id for m in matcher.match(entry("Gaga and Britney"))] == ["b"]
    matcher.add(Watch("b", "metallica", (), EPOCH))  # replacing a watch's rule
    assert matcher.match(entry("Gaga and Britney")) == []
    for i in range(200):  # many removals trigger a compaction; behaviour is unchanged
        matcher.add(watch(f"word{i}", id=f"x{i}"))
        matcher.remove(f"x{i}")
    assert [m.watch_id for m in matcher.match(entry("Metallica"))] == ["b"]


def test_invalid_rule_is_refused_and_changes_nothing():
    matcher = compile_watches([watch("gaga", id="a")])
    with pytest.raises(RuleError, match="unclosed quote"):
        matcher.add(watch('"unclosed', id="bad"))
    assert "bad" not in matcher and len(matcher) == 1
    assert [m.watch_id for m in matcher.match(entry("Gaga unclosed"))] == ["a"]


def test_only_triggered_watches_are_evaluated(monkeypatch):
    from bot.rules import matcher as matcher_module

    evaluated = []
    real = matcher_module._holds
    monkeypatch.setattr(matcher_module, "_holds", lambda p, present: (evaluated.append(p), real(p, present))[1])
    m = compile_watches([watch(f'"artist {i}" AND tour', id=f"w{i}") for i in range(1000)])
    m.match(entry("Artist 7 announces a tour"))
    # "tour" occurs, but each watch is triggered by its more specific phrase only
    top_level = [p for p in evaluated if p[0] == 2]
    assert len(top_level) == 1


# -- property: the compiled matcher agrees with the reference evaluator -----------------

VOCAB = ["gaga", "lady", "britney", "spears", "duet", "tour", "beyoncé", "beyonce", "pop", "du", "東京",
         "rumor", "rumors", "ladygaga", "a"]
FIELDS = ["title", "summary", "content", "tag", "author", "feed", "url"]


@st.composite
def terms(draw):
    kind = draw(st.sampled_from(["word", "word", "phrase", "wild", "regex"]))
    prefix = draw(st.sampled_from([""] * 5 + [f"{f}:" for f in FIELDS]))
    if kind == "phrase":
        ws = draw(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3))
        return f'{prefix}"{" ".join(ws)}"'
    word = draw(st.sampled_from([w for w in VOCAB if len(w) >= 2]))
    if kind == "wild":
        return f"{prefix}{word}*"
    if kind == "regex":
        return f"{prefix}/{word}/" + draw(st.sampled_from(["", "i"]))
    return prefix + word


@st.composite
def rules(draw, depth=0):
    if depth >= 2 or draw(st.booleans()):
        return draw(terms())
    children = draw(st.lists(rules(depth=depth + 1), min_size=1, max_size=3))
    parts = [("-" if draw(st.integers(0, 4)) == 0 else "") + c for c in children]
    joiner = draw(st.sampled_from([" ", " AND ", " OR ", " | "]))
    return "(" + joiner.join(parts) + ")"


SEPARATORS = [" ", " ", ", ", "-", "'s ", " #", "  ", "\n", ".", "_"]


@st.composite
def texts(draw):
    ws = draw(st.lists(st.sampled_from(VOCAB + ["Gaga", "BRITNEY", "Lady-Gaga", "gagarin", "Duets", "x"]),
                       max_size=8))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(ws), max_size=len(ws)))
    return "".join(w + s for w, s in zip(ws, seps))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_list=st.lists(rules(), min_size=1, max_size=5), field_texts=st.fixed_dictionaries(
    {f: texts() for f in FIELDS}))
def test_compiled_matcher_agrees_with_the_reference(rule_list, field_texts):
    watches, trees = [], {}
    for i, rule in enumerate(rule_list):
        try:
            trees[f"w{i}"] = parse_rule(rule)
        except RuleError:
            continue  # e.g. a rule that only excludes
        watches.append(watch(rule, id=f"w{i}"))
    got = {m.watch_id for m in compile_watches(watches).match_fields(field_texts)}
    expected = {wid for wid, tree in trees.items() if evaluate(tree, field_texts)}
    assert got == expected, (rule_list, field_texts)


def test_matching_sees_through_html_and_entities():
    from bot.feeds.parse import parse_feed

    body = (b'<rss version="2.0"><channel><title>t</title><item><title>x</title><guid>1</guid><description>'
            b"&lt;p&gt;&lt;b&gt;Lady&lt;/b&gt; Gaga &amp;amp; &lt;a href='#'&gt;Britney Spears&lt;/a&gt; "
            b"du&lt;em&gt;et&lt;/em&gt;&lt;/p&gt;</description></item></channel></rss>")
    e = parse_feed(body, "f").entries[0]
    assert fires('"lady gaga" AND "britney spears" AND duet', e)
    assert not fires("amp OR href OR em", e)


def test_watches_added_one_by_one_past_the_merge_threshold_all_fire():
    matcher = Matcher()
    for i in range(700):  # crosses the point where the small automaton merges into the main one
        matcher.add(watch(f'"artist{i} band" tour', id=f"w{i}"))
        if i % 50 == 0:
            assert [m.watch_id for m in matcher.match(entry(f"Artist{i} Band on tour"))] == [f"w{i}"]
    fired = {m.watch_id for m in matcher.match(entry("artist3 band, artist650 band: tour"))}
    assert fired == {"w3", "w650"}
