"""Replies in the chat's language: gettext catalogs (bot/locale/<lang>/LC_MESSAGES/
tipoff.po, kept with Babel) and the language in force for what is being said now.

Text that people read is written `_("…")` (or `ngettext` for counts, `N_` to mark a
string kept in a table and translated where it is shown) and formatted with named
fields after translation: `_("Removed {url}").format(url=url)`. Which language `_` speaks
is a context variable: the command layer sets it for a chat's command, delivery for
the alerts a chat is sent (`speaking`); everything else (logs, the operator's CLI)
speaks English. Alerts keep the feed's own text; only tipoff's words around it change.

Catalogs are read from their .po files on first use (compiled in memory by Babel), so
the repository holds no generated binaries; tests/test_i18n.py checks that every marked
string is translated in every language, with the same {fields}."""

from __future__ import annotations

import gettext
import io
import logging
import re
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Iterator

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "tipoff"
DEFAULT = "en"
# The languages whose catalogs are complete, in their own words (for /language)
LANGUAGES = {"en": "English", "de": "Deutsch", "es": "Español", "fr": "Français"}

log = logging.getLogger("tipoff.i18n")
_speaking: ContextVar[str] = ContextVar("tipoff_language", default=DEFAULT)
_CODE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*$")


def supported(code: str | None) -> str | None:
    """The catalog serving a language tag as platforms send it ("de", "de-AT",
    "pt_BR", "ES"), or None when tipoff does not speak it."""
    match = _CODE.match((code or "").strip())
    if match is None:
        return None
    lang = match.group(1).lower()
    return lang if lang in LANGUAGES else None


def choose(*codes: str | None) -> str:
    """The first of the codes tipoff speaks, in the order given (a chat's choice, then
    the locale it was set up in, then the asker's); English when none."""
    for code in codes:
        lang = supported(code)
        if lang is not None:
            return lang
    return DEFAULT


def current() -> str:
    return _speaking.get()


@contextmanager
def speaking(*codes: str | None) -> Iterator[str]:
    """Say what is said inside in the first of these languages tipoff speaks."""
    token = _speaking.set(choose(*codes))
    try:
        yield _speaking.get()
    finally:
        _speaking.reset(token)


@lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    """A language's catalog, compiled from its .po file; English is the source text."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == DEFAULT:
        return gettext.NullTranslations()
    if not po.is_file():  # an install that left the catalogs out: say so once, answer in English
        log.warning("no %s catalog at %s: replies meant in %s are in English", LANGUAGES.get(lang, lang), po, lang)
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _(message: str) -> str:
    """`message` in the language spoken now."""
    return translations(_speaking.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted message for `n` in the language spoken now."""
    return translations(_speaking.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a string for the catalogs where it is defined (a table); `_` translates it
    where it is shown."""
    return message
