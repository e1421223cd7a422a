"""Walking the parsed TOML: every problem becomes a ConfigError that names the file,
the line where the key is set, and the key."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Mapping

from bot.config.settings import ConfigError, parse_duration

class _Reader:
    """Walks the parsed TOML, turning problems into ConfigErrors with key and line."""

    def __init__(self, text: str, path: Path | None) -> None:
        self.text = text
        self.lines = text.splitlines()
        self.where = str(path) if path else "<config>"

    def fail(self, key: str, message: str) -> ConfigError:
        line = self.line_of(key)
        loc = f"{self.where}:{line}" if line else self.where
        return ConfigError(f"{loc}: {key}: {message}")

    def line_of(self, key: str) -> int | None:
        """Best effort: the line where a key like `feeds[2].every` or `poll.every` is set."""
        array = re.fullmatch(r"([\w.-]+)\[(\d+)\](?:\.(.+))?", key)
        if array:
            heads = self._header_lines(array.group(1), double=True)
            nth = int(array.group(2))
            start = heads[nth - 1] if 0 < nth <= len(heads) else None
            leaf = array.group(3)
        elif self._header_lines(key, double=False):
            return self._header_lines(key, double=False)[0] + 1
        elif "." not in key and self._header_lines(key, double=True):  # [[key]] where [key.NAME] belongs
            return self._header_lines(key, double=True)[0] + 1
        else:
            table, _, leaf = key.rpartition(".")
            heads = self._header_lines(table, double=False) if table else [-1]
            start = heads[0] if heads else None
        if start is None:
            return None
        if leaf:
            leaf_re = re.compile(r"^\s*" + re.escape(leaf.split(".")[0]) + r"\s*=")
            for i in range(start + 1, len(self.lines)):
                if self.lines[i].lstrip().startswith("["):
                    break
                if leaf_re.match(self.lines[i]):
                    return i + 1
        return start + 1 if start >= 0 else None

    def _header_lines(self, table: str, *, double: bool) -> list[int]:
        open_, close = (r"\[\[", r"\]\]") if double else (r"\[", r"\]")
        pattern = re.compile(r"^\s*" + open_ + r"\s*" + re.escape(table) + r"\s*" + close)
        return [i for i, line in enumerate(self.lines) if pattern.match(line)]

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key.rsplit(".", 1)[-1], {})
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be a table")
        return value

    def duration(self, data: Mapping[str, Any], name: str, key: str, default: float, minimum: float = 0.0) -> float:
        if name not in data:
            return default
        try:
            value = parse_duration(data[name])
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum:g}s")
        return value

    def integer(self, data: Mapping[str, Any], name: str, key: str, default: int, minimum: int = 0) -> int:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be a whole number of at least {minimum}")
        return value

    def boolean(self, data: Mapping[str, Any], name: str, key: str, default: bool) -> bool:
        value = data.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def string(self, data: Mapping[str, Any], name: str, key: str, default: str | None = None) -> str:
        value = data.get(name, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string" if name in data else "is required")
        return value.strip()

    def unknown_keys(self, data: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for k in data:
            if k not in allowed:
                hint = _closest(k, allowed)
                raise self.fail(f"{prefix}{k}", "unknown key" + (f' (did you mean "{hint}"?)' if hint else ""))


def _closest(word: str, options: set[str]) -> str | None:
    found = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.7)
    return found[0] if found else None


def locate(path: Path | None, key: str) -> str:
    """"file:line" of a key in the config (for problems only found when acting on it)."""
    try:
        text = path.read_text(encoding="utf-8") if path else ""
    except (OSError, UnicodeDecodeError):
        text = ""
    reader = _Reader(text, path)
    line = reader.line_of(key)
    return f"{reader.where}:{line}" if line else reader.where


def toml_error(message: str, path: Path | None) -> str:
    """tomllib's message in the file:line shape of every other config error."""
    where = str(path) if path else "<config>"
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if not found:
        return f"{where}: not valid TOML: {message}"
    what = message[:found.start()]
    hint = ""
    if what.startswith("Cannot declare"):
        hint = ": each table is written once (a second [destinations.NAME] needs another NAME)"
    return f"{where}:{found.group(1)}: not valid TOML: {what} (column {found.group(2)}){hint}"


