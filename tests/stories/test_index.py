"""Recent stories: each headline filed under its story, found through the index."""

from bot.stories.headline import read_headline
from bot.stories.index import StoryIndex

HOUR = 3600.0


def file(index: StoryIndex, key: str, title: str, at: float = 0.0, source: str = ""):
    return index.add(key, read_headline(title), at, source)


def test_outlets_reporting_one_story_are_one_story_with_every_source():
    index = StoryIndex()
    first = file(index, "a", "Lady Gaga and Britney Spears are preparing a duet, sources say", source="Billboard")
    copy = file(index, "b", "Britney Spears and Lady Gaga preparing duet, say sources", HOUR, "Variety")
    other = file(index, "c", "Madonna and Britney Spears are preparing a duet", HOUR, "NME")
    assert (first.verdict, copy.verdict, other.verdict) == ("new", "copy", "new")
    assert copy.story is first.story and copy.closest == "a"
    assert first.story.sources == ["Billboard", "Variety"] and first.story.headlines == ["a", "b"]
    assert other.story is not first.story


def test_a_development_joins_the_story_and_its_rewordings_are_copies_of_it():
    index = StoryIndex()
    file(index, "a", "Lady Gaga and Britney Spears are preparing a duet, sources say")
    confirmed = file(index, "b", "Britney Spears confirms duet with Lady Gaga")
    again = file(index, "c", "Lady Gaga duet confirmed by Britney Spears")
    cancelled = file(index, "d", "Lady Gaga and Britney Spears duet cancelled")
    assert [p.verdict for p in (confirmed, again, cancelled)] == ["development", "copy", "development"]
    assert confirmed.story is again.story is cancelled.story
    assert confirmed.story.facts == {"confirm", "cancel"}


def test_stories_older_than_the_window_are_forgotten():
    index = StoryIndex(window=72 * HOUR)
    file(index, "a", "Obama signs bill", 0)
    assert file(index, "b", "President Obama signs the bill into law", 71 * HOUR).verdict == "copy"
    later = file(index, "c", "President Obama signs the bill into law today", 150 * HOUR)
    assert later.verdict == "new"  # a and b were seen more than 72 h before
    assert len(index) == 1 and index.story_of("a") is None


def test_a_headline_filed_twice_stays_where_it_was():
    index = StoryIndex()
    first = file(index, "a", "Obama signs bill")
    assert file(index, "a", "Obama signs bill").story is first.story and len(index) == 1


def test_candidates_come_from_the_index_not_a_scan(monkeypatch):
    """Among thousands of unrelated stories only those sharing a rare term are compared."""
    from bot.stories import index as index_module

    index = StoryIndex()
    for i in range(3000):
        file(index, f"n{i}", f"Council {i} approves budget for district {i + 7}")
    compared = []
    real = index_module.compare
    monkeypatch.setattr(index_module, "compare", lambda *a, **k: compared.append(a) or real(*a, **k))
    placed = file(index, "x", "Lady Gaga and Britney Spears are preparing a duet")
    assert placed.verdict == "new" and len(compared) == 0
    file(index, "y", "Britney Spears and Lady Gaga preparing duet")
    assert 1 <= len(compared) <= index_module.MAX_CANDIDATES
