"""Alerts as Discord embeds: within every limit, nothing pinged, for hostile and real
feeds alike."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.model import Alert, FiredWatch
from bot.render.discord import alert_payload, embed_length, escape_markdown
from tests.corpus_alerts import corpus_alerts
from tests.factories import entry
from tests.fakes.discord import validate_message

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def alert_for(e, *watches, feed_title="PopWire"):
    fired = watches or (FiredWatch("w1", '"lady gaga" duet', ("lady gaga", "duet")),)
    return Alert("a", "discord:1", e, feed_title, "https://pop.example/feed", fired, NOW)


def test_embed_shape():
    e = entry("Gaga *and* Britney @everyone", url="https://pop.example/1",
              summary="Lady Gaga will sing a duet.", published=NOW - timedelta(hours=1))
    fired = FiredWatch("w1", "duet", ("duet",), "Duet", (("summary", 22, 26),))
    payload = alert_payload(alert_for(e, fired))
    embed = payload["embeds"][0]
    assert embed["title"] == r"Gaga \*and\* Britney \@everyone"
    assert embed["url"] == "https://pop.example/1"
    assert embed["description"] == "Lady Gaga will sing a **duet**."
    assert embed["author"] == {"name": "PopWire"}
    assert embed["footer"]["text"] == "🔔 Duet — duet"
    assert embed["timestamp"] == "2026-11-25T11:00:00+00:00"
    assert payload["allowed_mentions"] == {"parse": [], "roles": []} and payload["content"] == ""


def test_a_watch_may_mention_its_role_and_nothing_else():
    fired = FiredWatch("w1", "duet", ("duet",), "", (), mention="123456789012345678")
    payload = alert_payload(alert_for(entry("@everyone <@&999999999999999999> duet"), fired))
    assert payload["content"] == "<@&123456789012345678>"
    assert payload["allowed_mentions"] == {"parse": [], "roles": ["123456789012345678"]}
    assert "<@&999" not in payload["embeds"][0]["title"]


def test_escape_markdown():
    assert escape_markdown("a_b*c`d|e>f[g](h)~i#j-k\\l") == r"a\_b\*c\`d\|e\>f\[g\]\(h\)\~i\#j\-k\\l"


def test_huge_everything_fits():
    e = entry("*" * 5000, url="https://x.example/" + "p" * 5000, summary="_" * 50_000)
    many = tuple(FiredWatch(f"w{i}", "r" * 3000, ("t" * 900,)) for i in range(20))
    payload = alert_payload(alert_for(e, *many, feed_title="#" * 9000))
    validate_message(payload)
    assert embed_length(payload["embeds"][0]) <= 6000


@pytest.mark.parametrize("sub", ["edge/feedparser/wellformed/sanitize", "real"])
def test_every_corpus_entry_renders_within_discords_limits(corpus, sub):
    count = 0
    for path, alert in corpus_alerts(corpus / sub, "rule", ("x",), step=9):
        payload = alert_payload(alert)
        problems = validate_message(payload)
        assert not problems, f"{path.name}: {problems}"
        assert payload["allowed_mentions"]["parse"] == []
        count += 1
    assert count > 100
