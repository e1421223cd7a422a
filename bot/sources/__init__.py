"""Source shortcuts: what people type instead of a feed URL (`news:"lady gaga" duet`,
`reddit:r/popheads`, …), each expanded by its own small module to a public feed."""

from __future__ import annotations

from types import ModuleType

from bot.sources import bsky, mastodon, news, reddit, youtube
from bot.sources.base import Source, SourceError, SourceSettings

MODULES: dict[str, ModuleType] = {m.PREFIX: m for m in (news, reddit, youtube, bsky, mastodon)}

__all__ = ["MODULES", "Source", "SourceError", "SourceSettings", "expand", "is_shortcut", "catalogue"]


def is_shortcut(text: str) -> bool:
    prefix, sep, _ = text.partition(":")
    return bool(sep) and prefix.lower() in MODULES


def expand(text: str, settings: SourceSettings) -> Source:
    """'news:"lady gaga" duet' → Source(url=…); SourceError for a bad one."""
    prefix, _, spec = text.partition(":")
    module = MODULES.get(prefix.lower())
    if module is None:
        raise SourceError(f"{prefix}: is not a source I know; /sources lists them")
    source: Source = module.expand(spec, settings)
    return source


def catalogue() -> list[tuple[str, str, tuple[str, ...]]]:
    """(prefix, what it is, examples) for /sources and --help."""
    return [(p, (m.__doc__ or "").strip().split("\n")[0], m.EXAMPLES) for p, m in MODULES.items()]
