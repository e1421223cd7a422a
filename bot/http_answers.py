"""What an HTTP answer says, in words people and the log can use: a status, a
Retry-After, a Cache-Control max-age, a client error (never with its URL). Shared by the
fetcher and the adapters that speak HTTP themselves. Pure."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus

def status_text(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def cache_max_age(value: str | None) -> float | None:
    """Cache-Control max-age in seconds (None for no-cache/no-store or none given)."""
    if not value or "no-cache" in value.lower() or "no-store" in value.lower():
        return None
    found = _MAX_AGE.search(value)
    return float(found.group(1)) if found else None


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def describe_client_error(exc: BaseException) -> str:
    """An HTTP client error in words that name no URL (a destination's URL may hold its
    token: a Discord webhook's does): aiohttp's own messages often print the URL."""
    import aiohttp

    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid URL"
    return type(exc).__name__
