"""Digest assembly (grouped by watch, in order) and splitting within each platform's
limits: Telegram 4,096 characters of visible text, Discord a 4,096-character embed
description, and a cap on alerts per message."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.model import Alert, Digest, FiredWatch
from bot.render import digest as digests
from bot.render.discord import DESCRIPTION_MAX, digest_payload, split_digest as discord_split
from bot.render.telegram import MAX_TEXT, digest_message, split_digest as telegram_split
from tests.factories import entry
from tests.fakes.telegram_html import utf16_len, visible_text

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


def alert(n: int, label: str, title: str | None = None) -> Alert:
    e = entry(title or f"Story {n} <b>& friends</b>", id=f"e{n}", url=f"https://pop.example/{n}?a=1&b=2")
    return Alert(f"a{n}", "telegram:1", e, "PopWire & <Co>", "https://pop.example/feed",
                 (FiredWatch(f"w-{label}", label, (label,), label=label.title()),), NOW)


def test_alerts_are_grouped_by_watch_in_order_of_first_appearance():
    d = Digest("telegram:1", (alert(1, "gaga"), alert(2, "britney"), alert(3, "gaga")), "digest")
    assert [(label, [a.id for a in alerts]) for label, alerts in d.sections()] == [
        ("Gaga", ["a1", "a3"]), ("Britney", ["a2"])]
    text = digests.digest_text(d, NOW)
    assert text.index("Gaga") < text.index("Story 1") < text.index("Story 3") < text.index("Britney")
    assert text.startswith("== Digest: 3 alerts ==")
    quiet = digests.digest_text(Digest("console", (alert(1, "gaga"),), "quiet"), NOW)
    assert quiet.startswith("== While it was quiet: 1 alert ==")


def test_telegram_digest_is_valid_html_and_splits_within_4096():
    long_title = "Lady Gaga and Britney Spears duet " * 12
    d = Digest("telegram:1", tuple(alert(n, ["gaga", "britney", "duet"][n % 3], long_title + str(n))
                                   for n in range(60)), "digest")
    parts = telegram_split(d)
    assert len(parts) > 1
    assert [a.id for p in parts for a in p.alerts] == [a.id for a in d.alerts]  # every alert once, in order
    for part in parts:
        html = digest_message(part, 1, None, NOW)["text"]
        assert utf16_len(visible_text(html)) <= MAX_TEXT  # visible_text raises on markup Telegram refuses
        assert len(part.alerts) <= digests.MAX_ALERTS_PER_PART
    assert "PopWire &amp; &lt;Co&gt;" in digest_message(parts[0], 1)["text"]  # feed text escaped, never markup
    assert "&amp; friends" in digest_message(Digest("telegram:1", (alert(1, "gaga"),), "digest"), 1)["text"]


def test_discord_digest_splits_within_the_embed_limit_and_mentions_roles_once():
    d = Digest("discord:1", tuple(alert(n, "gaga", "x" * 180 + f" {n}") for n in range(50)), "digest")
    parts = discord_split(d)
    assert len(parts) > 1 and sum(len(p.alerts) for p in parts) == 50
    for part in parts:
        assert len(digest_payload(part, NOW)["embeds"][0]["description"]) <= DESCRIPTION_MAX
    a = alert(1, "gaga")
    role = "123456789012345678"
    a = Alert(a.id, a.destination, a.entry, a.feed_title, a.feed_url,
              (FiredWatch("w1", "gaga", ("gaga",), mention=role),), NOW)
    payload = digest_payload(Digest("discord:1", (a, a), "quiet"))
    assert payload["content"] == f"<@&{role}>" and payload["allowed_mentions"] == {"parse": [], "roles": [role]}


def test_one_alert_always_fits_and_an_empty_split_is_empty():
    huge = alert(1, "gaga", "y" * 20000)  # each line is capped: 10 of them still fit one message
    parts = telegram_split(Digest("telegram:1", (huge,) * 10, "digest"))
    assert len(parts) == 1 and utf16_len(visible_text(digest_message(parts[0], 1)["text"])) <= MAX_TEXT
    assert [len(p.alerts) for p in digests.split(Digest("c", (huge,) * 3, "digest"), lambda d: len(d.alerts) < 2)] \
        == [1, 1, 1]
    assert digests.split(Digest("c", (), "digest"), lambda d: True) == []
