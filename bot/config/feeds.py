"""The [[feeds]] of the config, and how the operator's feeds are fetched: their
addresses (source shortcuts expanded, file: paths made absolute), request headers and
cookies (from the file or the environment) and proxies."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

from bot.config.reader import _Reader
from bot.config.settings import PollSettings
from bot.model import Feed, feed_id_for
from bot.sources import SourceError, SourceSettings, is_shortcut
from bot.sources import expand as expand_source


PROXY = re.compile(r"(https?|socks4|socks5h?)://[^\s/?#]+/?")
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _proxy(r: _Reader, t: Mapping[str, Any], key: str) -> str:
    if "proxy" not in t:
        return ""
    proxy = r.string(t, "proxy", key)
    if not PROXY.fullmatch(proxy):
        raise r.fail(key, "must be a proxy address: http://host:port, https://…, socks5://host:port or socks4://…")
    return proxy.rstrip("/")


def _feed_headers(r: _Reader, t: Mapping[str, Any], key: str, env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A feed's request headers: `headers` (a table), `headers_env` (a variable holding a
    JSON object of them) and `cookies_env` (a variable holding a Cookie header)."""
    headers: dict[str, str] = {}
    table = r.table(t, f"{key}.headers") if "headers" in t else {}
    found: list[tuple[str, Any, str]] = [(str(k), v, f"{key}.headers.{k}") for k, v in table.items()]
    if "headers_env" in t:
        var = r.string(t, "headers_env", f"{key}.headers_env")
        raw = env.get(var, "")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise r.fail(f"{key}.headers_env", f'{var} must hold a JSON object of headers, e.g. {{"Authorization": '
                                                f'"Bearer …"}} (it is {"not set" if not raw else "something else"})')
        found += [(str(k), v, f"{key}.headers_env") for k, v in parsed.items()]
    if "cookies_env" in t:
        var = r.string(t, "cookies_env", f"{key}.cookies_env")
        if not env.get(var, "").strip():
            raise r.fail(f"{key}.cookies_env", f"the environment variable {var} is not set")
        found.append(("Cookie", env[var].strip(), f"{key}.cookies_env"))
    for name, value, where in found:
        if not HEADER_NAME.fullmatch(name) or not isinstance(value, str) or "\r" in value or "\n" in value:
            raise r.fail(where, f"{name!r} must be a header name with a one-line text value")
        if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            raise r.fail(where, f"{name} is set by tipoff itself")
        headers[name] = value
    return tuple(headers.items())


def _feeds(r: _Reader, items: Any, poll: PollSettings, base_dir: Path, sources: SourceSettings,
           env: Mapping[str, str], fetch_proxy: str = "") -> tuple[Feed, ...]:
    if not isinstance(items, list):
        raise r.fail("feeds", "must be an array of tables: [[feeds]]")
    feeds: dict[str, Feed] = {}
    for i, t in enumerate(items, start=1):
        key = f"feeds[{i}]"
        if not isinstance(t, Mapping):
            raise r.fail(key, "must be a table")
        r.unknown_keys(t, {"url", "every", "title", "backfill", "headers", "headers_env", "cookies_env", "proxy",
                           "full_text"},
                       f"{key}.")
        url = _feed_url(r, r.string(t, "url", f"{key}.url"), f"{key}.url", base_dir, sources)
        every = r.duration(t, "every", f"{key}.every", poll.every)
        if every < 1:
            raise r.fail(f"{key}.every", "must be at least 1s")
        if url in feeds:
            raise r.fail(f"{key}.url", "this feed is already listed")
        headers = _feed_headers(r, t, key, env)
        proxy = _proxy(r, t, f"{key}.proxy") or fetch_proxy
        if (headers or "proxy" in t) and not url.startswith(("http://", "https://")):
            raise r.fail(f"{key}.url", "headers and a proxy apply to http(s) feeds")
        feeds[url] = Feed(feed_id_for(url), url, every, trusted=True, title=str(t.get("title", "")),
                          backfill=r.integer(t, "backfill", f"{key}.backfill", poll.backfill), headers=headers,
                          proxy=proxy if url.startswith(("http://", "https://")) else "",
                          full_text=r.boolean(t, "full_text", f"{key}.full_text", False))
    return tuple(feeds.values())


def _feed_url(r: _Reader, url: str, key: str, base_dir: Path, sources: SourceSettings) -> str:
    if is_shortcut(url):
        try:
            source = expand_source(url, sources)
        except SourceError as exc:
            raise r.fail(key, str(exc)) from None
        if source.page:
            raise r.fail(key, f'"{url}" needs a look at {source.url} to find its feed; '
                              "give the feed URL (or a channel id) in the config, or add it with /add")
        return source.url
    if url.startswith(("http://", "https://")):
        return url
    if url.startswith("file:"):
        local = Path(url[7:] if url.startswith("file://") else url[5:])
        if not local.is_absolute():
            local = base_dir / local
        return local.resolve().as_uri()
    raise r.fail(key, f'"{url}" is not an http(s) or file: URL, nor a source shortcut (news:, reddit:, '
                      'youtube:, bsky:, mastodon:)')
