"""When an alert may go out: quiet hours, digests and snoozes, as plain functions over
times and settings. Times are POSIX seconds; wall-clock rules are read in the chat's
time zone (zoneinfo), so "23:00-07:00 Europe/Berlin" and "daily 09:00" stay right across
midnight and daylight-saving changes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.i18n import _, ngettext

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_RANGE = re.compile(r"^([0-2]?\d:[0-5]\d)\s*-\s*([0-2]?\d:[0-5]\d)$")


class ControlError(ValueError):
    """A schedule, time or zone that cannot be used; the message says what would."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ControlError(_("{name} is not a time zone I know; use a name like Europe/Berlin, "
                             "America/New_York or UTC").format(name=repr(name))) from None


def clock(text: str) -> time:
    m = _CLOCK.match(text.strip())
    if not m:
        raise ControlError(_("{text} is not a time of day like 09:00 or 23:30").format(text=repr(text)))
    return time(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True, slots=True)
class Quiet:
    start: time
    end: time
    tz: str

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.tz}"


def parse_quiet(text: str) -> Quiet:
    """'23:00-07:00 Europe/Berlin' (the zone defaults to UTC)."""
    parts = text.split()
    if not parts or not _RANGE.match(parts[0]) or len(parts) > 2:
        raise ControlError(_("give the quiet hours as START-END and a time zone, e.g. 23:00-07:00 Europe/Berlin"))
    m = _RANGE.match(parts[0])
    assert m is not None
    start, end = clock(m.group(1)), clock(m.group(2))
    if start == end:
        raise ControlError(_("quiet hours need a start and an end that differ"))
    tz = parts[1] if len(parts) > 1 else "UTC"
    zone(tz)
    return Quiet(start, end, tz)


def _local(at: datetime, wall: time, tz: ZoneInfo) -> datetime:
    """The instant `wall` o'clock on `at`'s local date (PEP 495, fold=0): a wall time
    that happens twice that day (autumn) is its first occurrence; one the clocks skip
    (spring) is read with the offset before the change, so 02:30 becomes 03:30."""
    return datetime.combine(at.date(), wall).replace(tzinfo=tz, fold=0)


def quiet_until(now: float, quiet: Quiet) -> float | None:
    """The end of the quiet period `now` falls in, or None when it is not quiet."""
    tz = zone(quiet.tz)
    local = datetime.fromtimestamp(now, tz)
    for day in (local - timedelta(days=1), local):
        start = _local(day, quiet.start, tz)
        end_day = day if quiet.start < quiet.end else day + timedelta(days=1)
        end = _local(end_day, quiet.end, tz)
        if start.timestamp() <= now < end.timestamp():
            return end.timestamp()
    return None


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    every: str  # "hourly" or "daily"
    at: time | None  # for daily
    tz: str

    def __str__(self) -> str:
        return "hourly" if self.every == "hourly" else f"daily {self.at:%H:%M} {self.tz}"


def parse_digest(text: str, default_tz: str = "UTC") -> DigestSchedule | None:
    """'hourly' | 'daily 09:00 [TZ]' | 'off' (None)."""
    parts = text.split()
    if not parts:
        raise ControlError(_("say hourly, daily 09:00 (with a time zone if not UTC) or off"))
    kind = parts[0].lower()
    if kind == "off" and len(parts) == 1:
        return None
    if kind == "hourly" and len(parts) == 1:
        return DigestSchedule("hourly", None, "UTC")
    if kind == "daily" and len(parts) in (2, 3):
        tz = parts[2] if len(parts) == 3 else default_tz
        zone(tz)
        return DigestSchedule("daily", clock(parts[1]), tz)
    raise ControlError(_("I don't understand {text}: say hourly, daily 09:00 Europe/Berlin, or off")
                       .format(text=repr(text)))


def next_digest(now: float, digest: DigestSchedule) -> float:
    """When the digest that an alert arriving at `now` belongs to goes out."""
    if digest.every == "hourly":
        return (int(now) // 3600 + 1) * 3600.0
    assert digest.at is not None
    tz = zone(digest.tz)
    local = datetime.fromtimestamp(now, tz)
    for day in (local, local + timedelta(days=1), local + timedelta(days=2)):
        at = _local(day, digest.at, tz).timestamp()
        if at > now:
            return at
    raise AssertionError("a daily time recurs within two days")


@dataclass(frozen=True, slots=True)
class Hold:
    until: float  # 0 when the alert may go at once
    why: str  # "", "digest" or "quiet"


def release(now: float, chat_digest: str, watch_digests: Iterable[str], quiet: str) -> Hold:
    """When an alert may be sent to a chat: its watches' digest settings win over the
    chat's ("off" on any fired watch means at once); quiet hours then push the time to
    their end. Settings are the stored strings (`str(DigestSchedule)`, `str(Quiet)`)."""
    own = [d for d in watch_digests if d]
    spec = "off" if "off" in own else (own[0] if own else chat_digest)
    digest = parse_digest(spec) if spec and spec != "off" else None
    until, why = (next_digest(now, digest), "digest") if digest else (0.0, "")
    if quiet:
        ends = quiet_until(max(until, now), parse_quiet(quiet))
        if ends is not None:
            return Hold(ends, why or "quiet")
    return Hold(until, why)


SPREAD_WITHIN = 2 * 3600.0  # a watch waiting for a story to spread counts outlets over this span by default
MAX_SOURCES = 50


def spread_setting(sources: int | str, within: float | str | None = None) -> tuple[int, float]:
    """A watch's spread setting: how many outlets (2 to 50) must carry a story, within
    how long ('2h', '30m', '1d': between ten minutes and a week; 2 h when not given)."""
    try:
        n = int(sources)
    except (TypeError, ValueError):
        raise ControlError(_("{text} is not a number of outlets, like 3").format(text=repr(sources))) from None
    if not 2 <= n <= MAX_SOURCES:
        raise ControlError(_("a story can be waited for until 2 to {max} outlets carry it").format(max=MAX_SOURCES))
    if within is None or within == "":
        return n, SPREAD_WITHIN
    seconds = within if isinstance(within, (int, float)) else snooze_seconds(str(within), limit=False)
    if not 600 <= seconds <= 7 * 86400:
        raise ControlError(_("count the outlets within between ten minutes and a week (e.g. 2h)"))
    return n, float(seconds)


def describe_spread(sources: int, within: float) -> str:
    """'3 outlets within 2 h'."""
    span = within or SPREAD_WITHIN
    unit = next((f"{span / size:g} {name}" for size, name in ((86400, "d"), (3600, "h"), (60, "min"))
                 if span >= size and span % size == 0), f"{span / 60:.0f} min")
    return ngettext("{count} outlet within {span}", "{count} outlets within {span}", sources).format(
        count=sources, span=unit)


def snooze_seconds(text: str, limit: bool = True) -> float:
    """'24h', '90m', '2d', '1w' → seconds (at most 90 days)."""
    m = re.fullmatch(r"(\d+)\s*(m|min|h|d|w)", text.strip().lower())
    if not m:
        raise ControlError(_("{text} is not a duration like 8h, 24h, 3d or 1w").format(text=repr(text)))
    seconds = int(m.group(1)) * {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
    if limit and not 60 <= seconds <= 90 * 86400:
        raise ControlError(_("snooze for between a minute and 90 days"))
    return float(seconds)
