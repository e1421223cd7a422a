"""How often chats and people may send commands: sliding one-minute windows per key,
pure over the clock value it is given (no timers, no I/O)."""

from __future__ import annotations

from collections import deque


class RateWindow:
    """At most `limit` events per `period` seconds for each key."""

    def __init__(self, limit: int, period: float = 60.0) -> None:
        self.limit = limit
        self.period = period
        self._events: dict[str, deque[float]] = {}

    def wait(self, key: str, now: float) -> float:
        """Seconds until `key` may have another event (0 when it may now)."""
        events = self._events.get(key)
        if events is None:
            return 0.0
        while events and events[0] <= now - self.period:
            events.popleft()
        if not events:
            del self._events[key]
            return 0.0
        return 0.0 if len(events) < self.limit else events[0] + self.period - now

    def note(self, key: str, now: float) -> None:
        self._events.setdefault(key, deque()).append(now)
        if len(self._events) > 10_000:  # forget keys whose windows are empty
            for stale in [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.period]:
                del self._events[stale]
