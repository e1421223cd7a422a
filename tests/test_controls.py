"""Quiet hours, digest times and snoozes: plain functions over times, checked across
midnight and both daylight-saving changes (Europe/Berlin: 2026-03-29 02:00 → 03:00,
2026-10-25 03:00 → 02:00)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot import controls
from bot.controls import ControlError, Hold, parse_digest, parse_quiet, quiet_until, release

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, tz: ZoneInfo = BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def local(ts: float | None, tz: ZoneInfo = BERLIN) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz).isoformat()


NIGHT = parse_quiet("23:00-07:00 Europe/Berlin")


def test_quiet_hours_across_midnight():
    assert local(quiet_until(at("2026-11-25T23:00"), NIGHT)) == "2026-11-26T07:00:00+01:00"
    assert local(quiet_until(at("2026-11-26T00:30"), NIGHT)) == "2026-11-26T07:00:00+01:00"
    assert local(quiet_until(at("2026-11-26T06:59"), NIGHT)) == "2026-11-26T07:00:00+01:00"
    assert quiet_until(at("2026-11-26T07:00"), NIGHT) is None
    assert quiet_until(at("2026-11-26T22:59"), NIGHT) is None


def test_quiet_hours_within_one_day():
    lunch = parse_quiet("12:00-13:30 UTC")
    utc = ZoneInfo("UTC")
    assert local(quiet_until(at("2026-11-25T12:10", utc), lunch), utc) == "2026-11-25T13:30:00+00:00"
    assert quiet_until(at("2026-11-25T13:30", utc), lunch) is None
    assert quiet_until(at("2026-11-25T11:59", utc), lunch) is None


def test_quiet_hours_over_the_spring_forward_night_are_one_hour_shorter():
    start = at("2026-03-28T23:30")
    end = quiet_until(start, NIGHT)
    assert local(end) == "2026-03-29T07:00:00+02:00"
    assert end is not None and (end - start) / 3600 == 6.5  # 7.5 wall hours, one of them skipped


def test_quiet_hours_over_the_fall_back_night_are_one_hour_longer():
    start = at("2026-10-24T23:30")
    end = quiet_until(start, NIGHT)
    assert local(end) == "2026-10-25T07:00:00+01:00"
    assert end is not None and (end - start) / 3600 == 8.5


def test_a_quiet_end_the_clocks_skip_is_read_as_summer_time():
    q = parse_quiet("01:00-02:30 Europe/Berlin")  # 02:30 does not exist on 2026-03-29
    assert local(quiet_until(at("2026-03-29T01:30"), q)) == "2026-03-29T03:30:00+02:00"


def test_daily_digest_is_at_the_same_wall_time_across_a_dst_change():
    nine = parse_digest("daily 09:00 Europe/Berlin")
    assert nine is not None
    assert local(controls.next_digest(at("2026-10-24T10:00"), nine)) == "2026-10-25T09:00:00+01:00"
    assert local(controls.next_digest(at("2026-10-25T08:59"), nine)) == "2026-10-25T09:00:00+01:00"
    assert local(controls.next_digest(at("2026-03-28T09:00"), nine)) == "2026-03-29T09:00:00+02:00"
    hourly = parse_digest("hourly")
    assert hourly is not None and controls.next_digest(3600 * 5 + 1, hourly) == 3600 * 6


def test_release_combines_digest_watch_settings_and_quiet_hours():
    night = str(NIGHT)
    assert release(at("2026-11-25T12:00"), "", [], "") == Hold(0.0, "")
    assert release(at("2026-11-25T12:00"), "", [], night) == Hold(0.0, "")
    assert release(at("2026-11-25T23:30"), "", [], night) == Hold(at("2026-11-26T07:00"), "quiet")
    daily = "daily 09:00 Europe/Berlin"
    assert release(at("2026-11-25T12:00"), daily, [], night) == Hold(at("2026-11-26T09:00"), "digest")
    assert release(at("2026-11-25T12:00"), daily, ["off"], "") == Hold(0.0, "")  # the watch says: at once
    assert release(at("2026-11-25T12:00"), "", ["hourly"], "").why == "digest"
    early = "daily 06:00 Europe/Berlin"  # falls in the quiet hours: waits for their end
    assert release(at("2026-11-25T12:00"), early, [], night) == Hold(at("2026-11-26T07:00"), "digest")


@pytest.mark.parametrize("text, message", [
    ("23:00", "START-END"), ("23:00-23:00 UTC", "differ"), ("23:00-07:00 Mars/Olympus", "not a time zone"),
    ("25:00-07:00 UTC", "not a time of day"),
])
def test_bad_quiet_hours_say_what_would_work(text, message):
    with pytest.raises(ControlError, match=message):
        parse_quiet(text)


def test_digest_and_snooze_parsing():
    assert parse_digest("off") is None
    assert str(parse_digest("daily 9:30", "Europe/Berlin")) == "daily 09:30 Europe/Berlin"
    with pytest.raises(ControlError, match="hourly, daily 09:00"):
        parse_digest("weekly")
    assert controls.snooze_seconds("24h") == 86400 and controls.snooze_seconds("90m") == 5400
    with pytest.raises(ControlError, match="between a minute and 90 days"):
        controls.snooze_seconds("100d")
    with pytest.raises(ControlError, match="not a duration"):
        controls.snooze_seconds("forever")
