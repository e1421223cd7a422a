"""What a headline says once the outlet's and the aggregator's decoration is gone."""

import pytest

from bot.stories.headline import read_headline, site_names, strip_decoration

GOOGLE = "https://news.google.com/rss/articles/CBMiX2h0dHBzOi8vd3d3"


@pytest.mark.parametrize("title, kw, expected", [
    # Google News: " - Publisher", the item's <source>
    ("Lady Gaga and Britney Spears tease duet - Billboard", {"source": "Billboard"},
     "Lady Gaga and Britney Spears tease duet"),
    ("Gaga, Spears duet confirmed - The New York Times", {"source": "The New York Times"}, "Gaga, Spears duet confirmed"),
    # an aggregator's link, the publisher not named: a short trailing " - X" goes
    ("Storm hits coast, thousands without power - WRAL News", {"link": GOOGLE}, "Storm hits coast, thousands without power"),
    # the outlet naming itself, by feed title or host
    ("Britney Spears confirms duet | Variety", {"sites": site_names("Variety", "https://variety.com/feed/")},
     "Britney Spears confirms duet"),
    ("Britney Spears confirms duet - The Verge", {"sites": site_names("", "https://www.theverge.com/rss")},
     "Britney Spears confirms duet"),
    ("Billboard: Gaga and Spears record a duet together", {"sites": ("Billboard",)},
     "Gaga and Spears record a duet together"),
    ("Giant Bombcast 02/02/2016", {"sites": ("Giant Bombcast",)}, "02/02/2016"),
    # a dash that is part of the headline stays where nothing names the outlet
    ("Spears - Gaga duet: what we know", {}, "Spears - Gaga duet: what we know"),
    ("Brexit - the vote explained", {"sites": ("Variety",)}, "Brexit - the vote explained"),
])
def test_decoration_is_stripped(title, kw, expected):
    assert strip_decoration(title, **kw) == expected


def test_words_numbers_and_facts():
    h = read_headline("Paris fire: three dead, 1,500 evacuated on 03/04/2025 - BBC News", source="BBC News")
    assert h.words == {"pari", "fire", "dead", "evacu"}  # stems: "evacuated" and "evacuates" are one term
    assert h.numbers == {"3", "1500", "3/4/2025"}
    assert h.developments == {"death"}


def test_identifiers_with_digits_count_as_numbers():
    assert read_headline("Sony unveils the PS5 at E3").numbers == {"ps5", "e3"}


def test_unspaced_scripts_are_read_as_character_pairs():
    h = read_headline("東京で大規模な火災")
    assert {"東京", "火災"} <= h.words


def test_a_short_headline_borrows_words_from_its_summary():
    h = read_headline("Breaking", "Lady Gaga and Britney Spears announce a duet for the spring")
    assert {"gaga", "britney", "duet"} <= h.words
    assert read_headline("Gaga and Spears announce a duet", "Completely different words here").words == \
        {"gaga", "spear", "announc", "duet"}


def test_inflections_of_a_word_are_one_term_and_still_mark_developments():
    assert read_headline("Britney Spears confirms duets").words == read_headline("Britney Spear confirmed duet").words
    assert read_headline("Britney Spears confirms duets").developments == {"confirm"}


def test_what_the_store_keeps_reads_back_as_the_same_headline():
    """After a restart the index is filled from the kept records: each must read as the
    entry did, a short title that borrows its summary's words included."""
    from bot.model import Entry
    from bot.stories.group import headline_of, report_of

    summary = "Lady Gaga and Britney Spears were seen in a Los Angeles studio recording a duet. " * 5
    for title in ("Studio session confirmed - Billboard", "Lady Gaga and Britney Spears are preparing a duet"):
        entry = Entry("f", "1", "https://b.example/1", "https://b.example/1", title, summary, source="Billboard")
        kept = report_of(entry, "k", "Billboard", "https://www.billboard.com/feed/", 0.0)
        assert headline_of(kept) == read_headline(title, summary, source="Billboard", sites=kept.sites,
                                                  link=entry.link)
