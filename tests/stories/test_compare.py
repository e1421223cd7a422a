"""The verdict on two headlines: a copy, a development, or a different story."""

import pytest

from bot.stories.compare import compare
from bot.stories.headline import read_headline


def verdict(a: str, b: str) -> str:
    return compare(read_headline(a), read_headline(b)).verdict


@pytest.mark.parametrize("a, b", [
    ("Obama signs bill", "President Obama signs the bill into law"),
    ("Lady Gaga and Britney Spears are preparing a duet, sources say",
     "Britney Spears and Lady Gaga preparing duet, say sources"),
    ("Paris fire: three dead", "3 dead in Paris fire"),
    ("Porn actor Stormy Daniels casts doubt on denial of affair with Trump",
     "Stormy Daniels on Jimmy Kimmel: porn actor casts doubt on denial of Trump affair – video"),
    ("東京で大規模な火災", "東京の大規模な火災"),
])
def test_rewordings_are_one_story(a, b):
    assert verdict(a, b) == "copy"


@pytest.mark.parametrize("a, b", [
    ("3 dead in Paris fire", "30 dead in Paris fire"),
    ("Lady Gaga to tour Europe in spring", "Madonna to tour Europe in spring"),
    ("Giant Bombcast Game of the Year 2016: Day One", "Giant Bombcast Game of the Year 2016: Day Two"),
    ("Announcing v201605 of the AdWords API", "Announcing v201603 of the AdWords API"),
    ("Slack (NASDAQ:WORK) Insider Cal Henderson Sells 1500 Shares",
     "Slack (NASDAQ:WORK) Insider Cal Henderson Sells 99342 Shares"),
    ("Apple shares rise", "Microsoft earnings beat forecasts"),
])
def test_contradicting_or_unrelated_headlines_are_different_stories(a, b):
    assert verdict(a, b) == "different"


@pytest.mark.parametrize("a, b, fact", [
    ("Lady Gaga and Britney Spears are preparing a duet, sources say", "Britney Spears confirms duet with Lady Gaga",
     "confirm"),
    ("Lady Gaga and Britney Spears are preparing a duet, sources say", "Lady Gaga and Britney Spears duet cancelled",
     "cancel"),
    ("Gaga and Spears duet confirmed", "Gaga and Spears duet release date set for March 3", "3"),
])
def test_a_new_fact_is_a_development(a, b, fact):
    result = compare(read_headline(a), read_headline(b))
    assert result.verdict == "development" and fact in result.why


def test_what_the_story_already_said_is_not_new():
    first = read_headline("Britney Spears confirms duet with Lady Gaga")
    later = read_headline("Lady Gaga duet confirmed by Britney Spears")
    assert compare(first, later).verdict == "copy"


def test_rare_words_weigh_more_than_common_ones():
    a = read_headline("Kimmel interview: Stormy Daniels speaks")
    b = read_headline("Kimmel interview: Lady Gaga speaks")
    common = {"kimmel": 1, "interview": 900, "speaks": 900}
    rare_names = lambda t: 9.0 if t in ("stormy", "daniels", "lady", "gaga") else 1.0 / common.get(t, 1)
    assert compare(a, b, rare_names).verdict == "different"
