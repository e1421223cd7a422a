"""Replies in the chat's language: the catalogs are complete for every marked string,
language tags are read the way platforms send them, and the command layer answers each
chat in the language it chose, else the one it was set up in, else the asker's."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from bot import destinations, i18n
from bot.commands import Commands, Invocation
from bot.engine import Engine
from bot.feeds.fetch import Fetcher
from bot.i18n import _
from bot.store.tinydb import TinyDBStore
from tests.factories import settings

PACKAGE = Path(i18n.__file__).parent
FIELD = re.compile(r"\{[^{}]*\}")
CHAT = destinations.telegram(-100777)


def source_messages() -> dict[str | tuple[str, str], int]:
    """Every string the code marks for translation (msgid, or (singular, plural))."""
    found: dict[str | tuple[str, str], int] = {}
    for _file, line, message, _comments, _context in extract_from_dir(
            str(PACKAGE), keywords={**DEFAULT_KEYWORDS, "N_": None}, method_map=[("**.py", "python")]):
        found[message] = line
    return found


def fields(text: str) -> set[str]:
    return set(FIELD.findall(text))


@pytest.mark.parametrize("lang", [code for code in i18n.LANGUAGES if code != i18n.DEFAULT])
def test_every_marked_string_is_translated_with_the_same_fields(lang):
    wanted = source_messages()
    assert len(wanted) > 250  # every reply, help text, button and error
    with (PACKAGE / "locale" / lang / "LC_MESSAGES" / "tipoff.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    have = {(m.id[0] if isinstance(m.id, tuple) else m.id): m for m in catalog if m.id}
    missing = [k for k in wanted if (k[0] if isinstance(k, tuple) else k) not in have]
    assert not missing, f"{lang}: not translated: {missing[:5]}"
    stale = [k for k in have if k not in {(w[0] if isinstance(w, tuple) else w) for w in wanted}]
    assert not stale, f"{lang}: translations of strings the code no longer has: {stale[:5]}"
    for key, message in have.items():
        assert not message.fuzzy, (lang, key)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(t.strip() for t in texts), f"{lang}: empty translation of {key!r}"
        singular_may_drop = {"{count}"}  # "The last alert here:" names no count
        for t in texts:
            assert fields(t) <= set().union(*map(fields, ids)), (lang, key, t)
            assert fields(ids[-1]) - singular_may_drop <= fields(t), (lang, key, t)


def test_the_template_lists_what_the_code_marks():
    with (PACKAGE / "locale" / "tipoff.pot").open("rb") as f:
        template = {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(f) if m.id}
    assert template == {k[0] if isinstance(k, tuple) else k for k in source_messages()}, \
        "run the pybabel extract/update commands in docs/languages.md"


def test_language_tags_are_read_as_platforms_send_them():
    assert i18n.supported("de") == "de" and i18n.supported("de-AT") == "de" and i18n.supported("ES") == "es"
    assert i18n.supported("es-419") == "es" and i18n.supported("fr_CA") == "fr"
    assert i18n.supported("pt-BR") is None and i18n.supported("") is None and i18n.supported(None) is None
    assert i18n.supported("../../etc") is None and i18n.supported("de\n") == "de"
    assert i18n.choose("", "pt-BR", "fr") == "fr" and i18n.choose(None, "xx") == "en"


def test_speaking_is_scoped_and_english_is_the_source():
    assert _("Quiet hours off.") == "Quiet hours off."
    with i18n.speaking("de"):
        assert _("Quiet hours off.") == "Ruhezeiten aus."
        with i18n.speaking("fr-FR"):
            assert _("Quiet hours off.") == "Heures calmes désactivées."
        assert i18n.current() == "de"
    assert i18n.current() == "en" and _("Quiet hours off.") == "Quiet hours off."
    with i18n.speaking("es"):
        assert i18n.ngettext("Digest: {count} alert", "Digest: {count} alerts", 1) == "Resumen: {count} alerta"
        assert i18n.ngettext("Digest: {count} alert", "Digest: {count} alerts", 5) == "Resumen: {count} alertas"


@pytest.fixture
async def bot(tmp_path):
    s = settings(tmp_path / "data", [])
    store = TinyDBStore(s.data_dir)
    await store.open()
    fetcher = Fetcher(s.fetch)
    commands = Commands(s, store, Engine(s, store, fetcher, {}), fetcher)

    async def say(text, *, locale="", admin=True, dest=CHAT):
        async def can_manage():
            return admin
        name, _sep, args = text[1:].partition(" ")
        return (await commands.run(Invocation(dest, "telegram:42", can_manage, locale=locale), name, args)).text
    say.store = store  # type: ignore[attr-defined]
    yield say
    await fetcher.close()
    await store.close()


async def test_a_chat_speaks_the_language_of_the_admin_who_set_it_up(bot):
    assert (await bot("/help", locale="de")).startswith("tipoff beobachtet News-Feeds")  # the asker's, until set up
    reply = await bot('/watch "lady gaga" duet', locale="de-DE")
    assert reply.startswith("Beobachte als w"), reply
    assert bot.store.destination_state(CHAT.name).locale == "de-DE"
    # a member whose app is in Spanish asks later: the chat still answers in German
    assert "Watches hier:" in await bot("/watches", locale="es", admin=False)
    assert "Sprache: Deutsch" in await bot("/status", locale="es", admin=False)
    # errors too: a rule's column, a bad schedule, a command nobody knows, the usage line
    assert "nicht geschlossenes Anführungszeichen in Spalte 1" in await bot('/watch "gaga')
    usage = await bot("/quiet 25:00-07:00")
    assert "ist keine Uhrzeit wie 09:00 oder 23:30" in usage and "Aufruf: /quiet 23:00-07:00 TZ | off" in usage
    assert (await bot("/frobnicate")).startswith("/frobnicate kenne ich nicht.")


async def test_language_is_chosen_and_kept_and_auto_follows_the_platform_again(bot):
    await bot("/pause", locale="de")
    assert "replies are in" not in await bot("/language")
    assert (await bot("/language fr")) == "Désormais, je réponds ici en Français."
    assert bot.store.destination_state(CHAT.name).language == "fr"
    assert (await bot("/resume", locale="de")).startswith("Reprise : les alertes")
    refused = await bot("/language de", admin=False, locale="de")
    assert refused == "Seuls les admins du chat peuvent changer sa langue."
    unknown = await bot("/language klingon")
    assert unknown.startswith("Je ne parle pas encore « klingon ». Langues : en (English), de (Deutsch)")
    assert (await bot("/language auto")) == "Ab jetzt antworte ich hier auf Deutsch."  # the setup locale again
    assert bot.store.destination_state(CHAT.name).language == ""


async def test_a_chat_nobody_configured_answers_each_asker_in_theirs_and_english_by_default(bot):
    other = destinations.telegram(-100778)
    assert (await bot("/feeds", locale="es", dest=other)).startswith("Todavía no se han añadido feeds aquí")
    assert (await bot("/feeds", locale="pt-BR", dest=other)).startswith("No feeds added here yet")
    assert (await bot("/feeds", dest=other)).startswith("No feeds added here yet")


async def test_the_language_survives_a_restart(tmp_path, bot):
    await bot("/language es")
    await bot.store.close()
    store = TinyDBStore(tmp_path / "data")
    await store.open()
    assert replace(store.destination_state(CHAT.name)).language == "es"
    await store.close()
