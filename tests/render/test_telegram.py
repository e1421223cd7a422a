"""Alerts as Telegram HTML: valid for Telegram's parser and within its limit, for
hostile and real feeds alike."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.model import Alert, FiredWatch
from bot.render.telegram import alert_message
from tests.fakes.telegram_html import TelegramHTMLError, utf16_len, visible_text
from tests.corpus_alerts import corpus_alerts
from tests.factories import entry

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def alert_for(e, *watches, feed_title="PopWire <Pop> & \"More\""):
    fired = watches or (FiredWatch("w1", '"lady gaga" AND duet', ("lady gaga", "duet"), ""),)
    return Alert("a", "telegram:1", e, feed_title, "https://pop.example/feed", fired, NOW)


def test_message_shape():
    e = entry("Gaga & Britney <3", url="https://pop.example/1?a=1&b=2",
              summary="They say Lady Gaga will sing a duet with Britney.", published=NOW - timedelta(hours=2))
    fired = FiredWatch("w1", '"lady gaga" AND duet', ("lady gaga", "duet"), "Duet",
                       (("summary", 9, 18), ("summary", 31, 35)))
    params = alert_message(alert_for(e, fired), -1001, thread_id=7, now=NOW)
    assert params["chat_id"] == -1001 and params["message_thread_id"] == 7 and params["parse_mode"] == "HTML"
    assert params["link_preview_options"] == {"url": "https://pop.example/1?a=1&b=2"}
    text = params["text"]
    assert text.startswith('<b><a href="https://pop.example/1?a=1&amp;b=2">Gaga &amp; Britney &lt;3</a></b>')
    assert "PopWire &lt;Pop&gt; &amp; \"More\" · 2 h ago" in text
    assert "They say <b>Lady Gaga</b> will sing a <b>duet</b> with Britney." in text
    assert "🔔 Duet — matched: <i>lady gaga, duet</i>" in text
    visible_text(text)


def test_excerpt_moves_to_the_first_match():
    long = "filler " * 300 + "Lady Gaga duet " + "more " * 300
    start = long.index("Lady Gaga")
    fired = FiredWatch("w1", "gaga", ("gaga",), "", (("summary", start + 5, start + 9),))
    text = alert_message(alert_for(entry("t", summary=long), fired), 1, now=NOW)["text"]
    assert "Lady <b>Gaga</b> duet" in text and "…" in text


def test_no_link_no_preview():
    params = alert_message(alert_for(entry("t", url="javascript:alert(1)")), 1, now=NOW)
    assert params["link_preview_options"] == {"is_disabled": True}
    assert "<a " not in params["text"]


def test_huge_everything_stays_within_4096():
    e = entry("T" * 10_000, url="https://x.example/" + "p" * 3000, summary="𝕏" * 20_000)
    many = tuple(FiredWatch(f"w{i}", "r" * 2000, ("t" * 500,), "") for i in range(40))
    params = alert_message(alert_for(e, *many, feed_title="F" * 5000), 1, now=NOW)
    assert utf16_len(visible_text(params["text"])) <= 4096


@pytest.mark.parametrize("markup, ok", [
    ("<b>x</b>", True), ('<a href="https://x">y</a>', True), ("a &amp; b &#128512; &lt;", True),
    ("<b>x", False), ("<div>x</div>", False), ("a & b", False), ("<b><i>x</b></i>", False), ("<a>x</a>", False),
    ("&nbsp;", False), ("1 > 0", False),
])
def test_the_validator_is_as_strict_as_telegram(markup, ok):
    if ok:
        visible_text(markup)
    else:
        with pytest.raises(TelegramHTMLError):
            visible_text(markup)


@pytest.mark.parametrize("sub", ["edge/feedparser/wellformed/sanitize", "real"])
def test_every_corpus_entry_renders_to_valid_telegram_html(corpus, sub):
    count = 0
    for path, alert in corpus_alerts(corpus / sub, "rule <&>", ("a", "<b>"), step=7):
        params = alert_message(alert, 1, now=NOW)
        try:
            text = visible_text(params["text"])
        except TelegramHTMLError as exc:
            pytest.fail(f"{path.name}: {exc}\n{params['text'][:500]}")
        assert utf16_len(text) <= 4096, path.name
        count += 1
    assert count > 100
