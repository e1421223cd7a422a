"""Source shortcuts: what people type instead of a feed URL (`news:"lady gaga" duet`,
`reddit:r/popheads`, …), each expanded by its own small module to a public feed."""

from __future__ import annotations

from types import ModuleType

from bot.i18n import _
from bot.sources import bsky, mastodon, news, reddit, youtube
from bot.sources.base import Source, SourceError, SourceSettings

MODULES: dict[str, ModuleType] = {m.PREFIX: m for m in (news, reddit, youtube, bsky, mastodon)}

__all__ = ["MODULES", "Source", "SourceError", "SourceSettings", "expand", "is_shortcut", "catalogue"]


def is_shortcut(text: str) -> bool:
    prefix, sep, _rest = text.partition(":")
    return bool(sep) and prefix.lower() in MODULES


def expand(text: str, settings: SourceSettings) -> Source:
    """'news:"lady gaga" duet' → Source(url=…); SourceError for a bad one."""
    prefix, _sep, spec = text.partition(":")
    module = MODULES.get(prefix.lower())
    if module is None:
        raise SourceError(_("{prefix}: is not a source I know; /sources lists them").format(prefix=prefix))
    source: Source = module.expand(spec, settings)
    return source


def catalogue() -> list[tuple[str, str, tuple[str, ...]]]:
    """(prefix, what it is (marked N_: translate where shown), examples) for /sources and --help."""
    return [(p, m.DESCRIPTION, m.EXAMPLES) for p, m in MODULES.items()]
