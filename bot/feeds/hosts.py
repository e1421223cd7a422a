"""How hard tipoff may poll each host, pure: request budgets ("1/2s": one request every
two seconds to that host), built-in ones for the big hosts that answer bots polling
hard with 429 or 403, and hosts that asked tipoff to slow down (429, or 503 with
Retry-After): every feed on such a host waits, not only the one that was told."""

from __future__ import annotations

from typing import Mapping

from bot.throttle import RateWindow

Rate = tuple[int, float]  # requests, per this many seconds

# One instance may hold hundreds of feeds on these: polite by default ([fetch.host_rates] overrides).
BIG_HOSTS: Mapping[str, Rate] = {
    "news.google.com": (1, 2.0), "www.reddit.com": (1, 2.0), "old.reddit.com": (1, 2.0), "reddit.com": (1, 2.0),
    "www.youtube.com": (1, 1.0), "bsky.app": (2, 1.0),
}
COOLDOWN_WITHOUT_RETRY_AFTER = 60.0  # a 429 that does not say how long
class HostLimits:
    """Each host's budget and cooldown. The clock is the caller's (monotonic seconds)."""

    def __init__(self, default: Rate | None = None, rates: Mapping[str, Rate] = BIG_HOSTS) -> None:
        self.default = default
        self.rates = {host.lower(): rate for host, rate in rates.items()}
        self._windows: dict[Rate, RateWindow] = {}
        self._until: dict[str, float] = {}

    def rate(self, host: str) -> Rate | None:
        return self.rates.get(host.lower(), self.default)

    def wait(self, host: str, now: float) -> float:
        """Seconds before a request to `host` fits its budget (0: now)."""
        rate = self.rate(host)
        if rate is None:
            return 0.0
        return self._window(rate).wait(host.lower(), now)

    def spend(self, host: str, now: float) -> None:
        rate = self.rate(host)
        if rate is not None:
            self._window(rate).note(host.lower(), now)

    def cooling(self, host: str, now: float) -> float:
        """Seconds the host still asked tipoff to wait (0: none)."""
        until = self._until.get(host.lower(), 0.0)
        if until <= now:
            self._until.pop(host.lower(), None)
            return 0.0
        return until - now

    def slow_down(self, host: str, now: float, seconds: float | None) -> float:
        """The host answered 429 (or 503 with Retry-After): hold every request to it for
        that long (a minute when it did not say). Returns the hold."""
        hold = seconds if seconds and seconds > 0 else COOLDOWN_WITHOUT_RETRY_AFTER
        self._until[host.lower()] = max(self._until.get(host.lower(), 0.0), now + hold)
        return hold

    def _window(self, rate: Rate) -> RateWindow:
        window = self._windows.get(rate)
        if window is None:
            window = self._windows[rate] = RateWindow(rate[0], rate[1])
        return window
