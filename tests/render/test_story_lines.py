"""What alerts say of their story: "Also reported by …" on every platform (other
outlets once each, never the alert's own, the rest counted), the console's one-line
update, a digest line's count of outlets, and the webhook's update event."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from bot.model import Alert, Digest, FiredWatch, Source
from bot.render import digest as digests
from bot.render.discord import alert_payload
from bot.render.json import alert_json, update_json
from bot.render.telegram import alert_message
from bot.render.text import alert_block, also_reported, update_line
from tests.factories import entry
from tests.fakes.discord import validate_message
from tests.fakes.telegram_html import visible_text

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
ALERT = Alert("fans:a1", "fans", entry("Lady Gaga and Britney Spears are preparing a duet", url="https://pop.example/1"),
              "Pop Daily", "https://pop.example/feed", (FiredWatch("w1", "duet", ("duet",)),), NOW, (), "story-1",
              Source("Pop Daily", "Lady Gaga and Britney Spears are preparing a duet", "https://pop.example/1"))


def grown(*outlets: str) -> Alert:
    return replace(ALERT, also=tuple(Source(o, f"{o}'s copy", f"https://{o.lower()}.example/") for o in outlets))


def test_also_reported_names_two_or_three_and_counts_the_rest():
    assert also_reported(ALERT) == ""
    assert also_reported(grown("Variety")) == "Also reported by Variety"
    assert also_reported(grown("Variety", "Billboard")) == "Also reported by Variety and Billboard"
    assert also_reported(grown("Variety", "Billboard", "NME")) == "Also reported by Variety, Billboard and NME"
    six = grown("Variety", "Billboard", "NME", "Vulture", "Pitchfork", "Stereogum")
    assert also_reported(six) == "Also reported by Variety, Billboard and 4 more"
    # outlets are one by name whatever the case and spacing; the alert's own is not "also"
    assert also_reported(grown("variety ", "VARIETY", "pop  daily")) == "Also reported by variety"


def test_every_platform_shows_the_line_within_its_limits():
    six = grown("Variety", "Billboard <b>", "NME", "Vulture", "Pitchfork", "Stereogum")
    html = alert_message(six, -100, now=NOW)["text"]
    assert "Also reported by Variety, Billboard &lt;b&gt; and 4 more" in html
    assert "Also reported by Variety, Billboard <b> and 4 more" in visible_text(html)
    payload = alert_payload(six, NOW)
    assert validate_message(payload) == {}
    assert payload["embeds"][0]["fields"] == [{"name": "📰 Story", "value": "Also reported by Variety, Billboard "
                                               "<b> and 4 more".replace("<", "\\<").replace(">", "\\>"),
                                               "inline": False}]
    assert "story:     Also reported by Variety, Billboard <b> and 4 more" in alert_block(six, NOW)
    assert "fields" not in alert_payload(ALERT, NOW)["embeds"][0]  # nobody else: no field
    assert update_line(six).startswith("  ↳ story update: Lady Gaga and Britney Spears are preparing a duet · ")


def test_a_digest_line_counts_the_other_outlets():
    d = Digest("fans", (grown("Variety", "NME"), replace(ALERT, id="fans:a2")), "digest")
    text = digests.digest_text(d, NOW)
    assert text.count("+2 outlets") == 1


def test_webhook_alert_and_update_bodies():
    body = alert_json(grown("Variety"))
    assert body["event"] == "alert" and body["story"]["id"] == "story-1"
    assert [s["outlet"] for s in body["story"]["sources"]] == ["Pop Daily", "Variety"]
    update = update_json(grown("Variety", "NME"), (Source("NME", "NME's copy", "https://nme.example/"),),
                         NOW.isoformat())
    assert update["event"] == "update" and update["story"]["alert_id"] == "fans:a1"
    assert [s["outlet"] for s in update["story"]["sources"]] == ["Pop Daily", "Variety", "NME"]
    assert update["new_sources"] == [{"outlet": "NME", "title": "NME's copy", "link": "https://nme.example/"}]
    assert Alert.from_dict(grown("Variety").to_dict()) == grown("Variety")  # what the outbox keeps reads back
