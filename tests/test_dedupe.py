from datetime import timedelta

from bot import dedupe
from bot.dedupe import entry_key, fresh_entries, is_repeat, story_keys
from tests.factories import NOW, entry

WEEK = timedelta(days=7)


def keys(*entries):
    return {entry_key(e) for e in entries}


def test_first_poll_announces_nothing_by_default():
    es = [entry(f"story {i}", published=NOW - timedelta(hours=i)) for i in range(5)]
    result = fresh_entries(es, set(), first_poll=True, backfill=0, now=NOW, max_age=WEEK)
    assert result.fresh == ()
    assert set(result.present) == keys(*es)


def test_first_poll_backfill_takes_the_newest():
    es = [entry(f"story {i}", published=NOW - timedelta(hours=i)) for i in (3, 0, 2, 1)]
    result = fresh_entries(es, set(), first_poll=True, backfill=2, now=NOW, max_age=WEEK)
    assert [e.title for e in result.fresh] == ["story 1", "story 0"]  # oldest first


def test_only_unknown_entries_are_fresh_whatever_their_order():
    a, b, c = (entry(t, published=NOW) for t in "abc")
    assert fresh_entries([c, a, b], keys(a, b), first_poll=False, backfill=0, now=NOW, max_age=WEEK).fresh == (c,)
    assert fresh_entries([b, a], keys(a, b), first_poll=False, backfill=0, now=NOW, max_age=WEEK).fresh == ()


def test_entries_older_than_max_age_never_alert():
    old = entry("old", published=NOW - timedelta(days=8))
    new = entry("new", published=NOW - timedelta(days=1))
    undated = entry("undated")
    result = fresh_entries([old, new, undated], set(), first_poll=False, backfill=0, now=NOW, max_age=WEEK)
    assert {e.title for e in result.fresh} == {"new", "undated"}
    assert result.too_old == 1


def test_duplicate_ids_within_one_body_count_once():
    a = entry("a")
    assert len(fresh_entries([a, a], set(), first_poll=False, backfill=0, now=NOW, max_age=WEEK).fresh) == 1


def test_syndicated_copy_shares_a_url_key():
    original = entry("Gaga and Britney duet confirmed by label", feed="f1", id="1", url="https://a.example/x")
    copy = entry("Different headline", feed="f2", id="zz", url="https://a.example/x")
    announced = {k: NOW.timestamp() for k in story_keys(original)}
    assert is_repeat(story_keys(copy), announced, NOW)


def test_same_headline_elsewhere_is_a_repeat_only_within_three_days():
    original = entry("Lady Gaga and Britney Spears duet", feed="f1", url="https://a.example/1")
    copy = entry("Lady Gaga & Britney Spears: duet!", feed="f2", url="https://b.example/2")
    at = {k: (NOW - timedelta(days=1)).timestamp() for k in story_keys(original)}
    assert is_repeat(story_keys(copy), at, NOW)
    long_ago = {k: (NOW - timedelta(days=4)).timestamp() for k in story_keys(original)}
    assert not is_repeat(story_keys(copy), long_ago, NOW)


def test_short_generic_headlines_do_not_merge_stories():
    assert not any(dedupe.is_title_key(k) for k in story_keys(entry("Live updates")))


def test_keys_are_128_bit():
    for key in story_keys(entry("Lady Gaga and Britney Spears duet", url="https://a.example/1")):
        assert len(key) == 1 + 32
        int(key[1:], 16)


def test_same_id_in_two_feeds_is_two_entries():
    assert entry_key(entry("x", feed="f1", id="1")) != entry_key(entry("x", feed="f2", id="1"))
