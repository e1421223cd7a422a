import io
from datetime import datetime, timedelta, timezone

from bot.adapters.console import ConsoleAdapter
from bot.model import Alert, Destination, Entry, FiredWatch
from bot.render.text import alert_block, excerpt

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
ENTRY = Entry("f1", "1", "https://pop.example/1", "https://pop.example/1?utm_source=x", "Gaga and Britney duet",
              "A long summary " * 40, published=NOW - timedelta(hours=3))
ALERT = Alert("a", "console", ENTRY, "PopWire", "https://pop.example/feed",
              (FiredWatch("w1", '"lady gaga" AND duet', ("lady gaga", "duet"), "Duet"),), NOW)


def test_console_block_has_every_field():
    block = alert_block(ALERT, NOW)
    assert "feed:      PopWire" in block
    assert "title:     Gaga and Britney duet" in block
    assert "link:      https://pop.example/1?utm_source=x" in block
    assert "published: 2026-11-25 09:00 UTC (3 h ago)" in block
    assert 'watch:     "lady gaga" AND duet [Duet]' in block
    assert "matched:   lady gaga, duet" in block
    assert max(len(line) for line in block.splitlines()) < 300


def test_excerpt_cuts_at_a_word():
    assert excerpt("word " * 100, 20) == "word word word word…"


async def test_console_adapter_writes_the_block():
    out = io.StringIO()
    await ConsoleAdapter(out).send(Destination("console", "console"), ALERT)
    assert "Gaga and Britney duet" in out.getvalue()
