"""Every file of the feed corpus (real and adversarial, ~3,300) through the whole
pipeline: parse → normalise → match → render for every platform. No exception, no hang
(each file has a time limit), and every rendered message valid for its platform. Plus
a fuzz test that mutates corpus files."""

from __future__ import annotations

import random
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.feeds.errors import FeedError
from bot.feeds.parse import parse_feed
from bot.pipeline import fired_watch
from bot.model import Alert, FiredWatch
from bot.render.discord import alert_payload
from bot.render.telegram import alert_message
from bot.render.text import alert_block
from bot.rules.matcher import compile_watches
from tests.conftest import CORPUS, corpus_path
from tests.factories import watch
from tests.fakes.discord import pings, validate_message
from tests.fakes.telegram_html import utf16_len, visible_text

PER_FILE_SECONDS = 10
NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)
MATCHER_WATCHES = {w.id: w for w in (
    watch("the", id="common"), watch('"of the"', id="phrase"), watch("feed* -zzz", id="wild"),
    watch("title:a OR summary:e", id="fields"), watch("/[aeiou]{2}/i", id="regex"),
)}
MATCHER = compile_watches(MATCHER_WATCHES.values())


class TooSlow(Exception):
    pass


def _alarm(signum, frame):
    raise TooSlow()


def run_pipeline(body: bytes) -> int:
    """Push one body through every stage; returns the number of alerts rendered."""
    try:
        feed = parse_feed(body, "f", "https://example.org/feed")
    except FeedError:
        return 0
    rendered = 0
    for entry in feed.entries:
        matches = MATCHER.match(entry, feed.title)
        fired = tuple(fired_watch(m, MATCHER_WATCHES[m.watch_id]) for m in matches) or (FiredWatch("none", "rule", ()),)
        alert = Alert("a", "x", entry, feed.title, "https://example.org/feed", fired, NOW)
        text = visible_text(alert_message(alert, 1, now=NOW)["text"])
        assert utf16_len(text) <= 4096
        payload = alert_payload(alert, NOW)
        assert validate_message(payload) == {}, validate_message(payload)
        assert pings(payload) == []
        assert alert_block(alert, NOW)
        rendered += 1
    return rendered


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md") if CORPUS.is_dir() else []


@pytest.mark.parametrize("folder", ["real", "edge/feedparser", "edge/gofeed"])
def test_every_corpus_file_goes_through_the_whole_pipeline(folder):
    root = corpus_path() / folder
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert files
    failures, slowest, rendered = [], (0.0, ""), 0
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for path in files:
            start = time.monotonic()
            signal.alarm(PER_FILE_SECONDS)
            try:
                rendered += run_pipeline(path.read_bytes())
            except TooSlow:
                failures.append(f"{path.relative_to(root)}: over {PER_FILE_SECONDS}s")
            except Exception as exc:  # noqa: BLE001 - the point is to list every failure
                failures.append(f"{path.relative_to(root)}: {type(exc).__name__}: {exc}"[:300])
            finally:
                signal.alarm(0)
            slowest = max(slowest, (time.monotonic() - start, path.name))
    finally:
        signal.signal(signal.SIGALRM, old)
    assert not failures, f"{len(failures)} of {len(files)} files failed:\n" + "\n".join(failures[:30])
    assert rendered > 0
    print(f"{folder}: {len(files)} files, {rendered} alerts rendered, slowest {slowest[0]:.2f}s ({slowest[1]})")


SAMPLE = [p for i, p in enumerate(corpus_files()) if i % 7 == 0]


def mutate(data: bytes, how: str, rnd: random.Random) -> bytes:
    if not data:
        return data
    at = rnd.randrange(len(data))
    if how == "truncate":
        return data[:at]
    if how == "flip":
        out = bytearray(data)
        for _ in range(1 + len(data) // 200):
            out[rnd.randrange(len(out))] = rnd.randrange(256)
        return bytes(out)
    if how == "soup":
        junk = rnd.choice([b"<item><title>", b"</channel>", b"<![CDATA[", b"]]>", b"<b><i>", b"&#0;", b"&amp",
                           b"<entry>", b"<!--", b"\x00\xff\xfe", b"<title>" * 50])
        return data[:at] + junk + data[at:]
    if how == "huge-attribute":
        return data[:at] + b' x="' + b"A" * 200_000 + b'" ' + data[at:]
    return data[:at] + data[at:] * 3  # repeated tail


@pytest.mark.skipif(not SAMPLE, reason=f"feed corpus not found at {CORPUS}")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, max(len(SAMPLE) - 1, 0)), how=st.sampled_from(
    ["truncate", "flip", "soup", "huge-attribute", "repeat"]), seed=st.integers(0, 2**32))
def test_mutated_corpus_files_never_crash_the_pipeline(index, how, seed):
    body = mutate(SAMPLE[index].read_bytes(), how, random.Random(seed))
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(PER_FILE_SECONDS)
    try:
        run_pipeline(body)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
