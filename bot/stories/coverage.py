"""How an alert's story grows: which outlets a later report adds to the alert already
sent, and how many outlets a story has in a span of time (a watch may wait for a story
to spread before it alerts). Pure."""

from __future__ import annotations

from typing import Iterable

from bot.model import Alert, Source


def outlet_key(name: str) -> str:
    """Outlets are one by name, whatever the case and spacing."""
    return " ".join(name.split()).casefold()


def added_sources(alert: Alert, sources: Iterable[Source]) -> tuple[Source, ...]:
    """The sources that name an outlet the alert does not name yet, once each, in order."""
    return unnamed_outlets(sources, alert.sources)


def unnamed_outlets(sources: Iterable[Source], named: Iterable[Source]) -> tuple[Source, ...]:
    """The sources whose outlet none of `named` has, the first of each outlet, in order."""
    seen = {outlet_key(s.outlet) for s in named}
    out = []
    for source in sources:
        key = outlet_key(source.outlet)
        if key and key not in seen:
            seen.add(key)
            out.append(source)
    return tuple(out)


def outlets_within(reports: Iterable[tuple[Source, float]], now: float, within: float) -> tuple[Source, ...]:
    """The outlets that reported a story in the `within` seconds up to now (the first
    report of each in that span), oldest first."""
    seen: dict[str, tuple[float, Source]] = {}
    for source, at in reports:
        key = outlet_key(source.outlet)
        if key and now - within <= at <= now and (key not in seen or at < seen[key][0]):
            seen[key] = (at, source)
    return tuple(source for _, source in sorted(seen.values(), key=lambda p: p[0]))
