"""The reader UI's words in the feed's language: gettext catalogs (Babel), one per language.

Contracts:

* The catalogs are ``app/locale/<lang>/LC_MESSAGES/messages.po`` (committed; msgids are the
  English strings written in :func:`_messages` below, extracted by ``make messages``).
  ``make translations`` compiles them to ``messages.mo``; when a ``.mo`` is missing or older
  than its ``.po`` (a fresh clone, an edited catalog) the ``.po`` is compiled in memory at first
  use, so the app never runs on stale or missing words. Nothing is written at run time.
* :func:`ui_strings` is every UI string of the reader page, embed and update pages for a
  locale tag, keyed as the templates and the browser (``cfg.strings``) read them. A plural
  message is ``{category: "…{n}…"}`` for every CLDR plural category of the language, each
  form taken from the catalog's own plural rule (``ngettext``) at a number of that category:
  the browser picks one with ``Intl.PluralRules`` and holds no second copy of any word.
* An unknown language gets English; :data:`LANGUAGES` lists the catalogs (the test suite
  checks each is complete).
* Messages defined elsewhere (the close-code table) are marked with :func:`N_` and
  translated where they are shown (:func:`gettext`).
* :func:`text_direction` is ``rtl`` for right-to-left languages (Arabic…), else ``ltr``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
#: Languages with a complete catalog; English is the msgids themselves.
LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "ru", "uk", "ar", "ja")
#: Items of an ``Accept-Language`` header looked at (a longer header is cut, not an error).
MAX_ACCEPTED_LANGUAGES = 32


def language_of(tag: str) -> str:
    """``pt-BR``/``pt_BR``/``pt`` → ``pt``; anything unknown → ``en``."""
    try:
        language = Locale.parse(tag.replace("-", "_")).language
    except (UnknownLocaleError, ValueError, TypeError):
        return "en"
    return language if language in LANGUAGES else "en"


@cache
def translations(language: str) -> NullTranslations:
    """The catalog of ``language`` (English: the msgids, through an empty catalog)."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    mo = po.with_suffix(".mo")
    if not po.exists():
        return NullTranslations()
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as compiled:
            return Translations(compiled, domain=DOMAIN)
    with po.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@dataclass(frozen=True)
class PluralMessage:
    """A message with a singular and a plural msgid (``ngettext``), made by :func:`N_plural`."""

    singular: str
    plural: str


#: UI strings keyed as a page and its browser code read them: a msgid (:func:`N_`) or a
#: plural message (:func:`N_plural`). :func:`translate_table` puts one in a language.
MessageTable = Mapping[str, "str | PluralMessage"]


def N_plural(singular: str, plural: str) -> PluralMessage:
    """Mark a plural message (``{n}`` in both forms) for ``make messages`` (extracted like
    ``ngettext``); :func:`translate_table` gives its forms in a language."""
    return PluralMessage(singular, plural)


def N_(text: str) -> str:
    """Mark ``text`` as a msgid for ``make messages`` where it is defined (a table of another
    module); it is translated where it is shown, with :func:`gettext`."""
    return text


def accepted_language(accept_language: str | None) -> str | None:
    """The first of :data:`LANGUAGES` an ``Accept-Language`` header asks for, by its q-values
    (``fr-CH, fr;q=0.9, en;q=0.8`` → ``fr``); ``None`` when it names none of them (or is
    absent), so the caller can fall back to its own default."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")[:MAX_ACCEPTED_LANGUAGES]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and quality > 0:
            ranked.append((-quality, position, tag.strip()))
    for _quality, _position, tag in sorted(ranked):
        language = tag.replace("_", "-").split("-")[0].lower()
        if language in LANGUAGES:
            return language
    return None


def choose_language(chosen: str | None, accept_language: str | None) -> str:
    """The UI language of a page in the user's language: ``chosen`` (a language the user
    picked, e.g. the studio's chooser) when it is one of :data:`LANGUAGES`, else the
    ``Accept-Language`` header's best, else English."""
    if chosen and chosen in LANGUAGES:
        return chosen
    return accepted_language(accept_language) or "en"


def language_names() -> list[tuple[str, str]]:
    """``(code, name)`` of every catalog's language, each name in its own language
    (``fr`` → ``Français``), for a language chooser."""
    names = []
    for language in LANGUAGES:
        name = Locale.parse(language).get_display_name(language) or language
        names.append((language, name[:1].upper() + name[1:]))
    return names


def gettext(tag: str, text: str) -> str:
    """``text`` (a msgid) in the language of the locale ``tag``."""
    return translations(language_of(tag)).gettext(text)


def text_direction(tag: str) -> str:
    """``rtl`` or ``ltr``: the writing direction of the feed's language."""
    try:
        direction = Locale.parse(tag.replace("-", "_")).character_order
    except (UnknownLocaleError, ValueError, TypeError):
        return "ltr"
    return "rtl" if direction == "right-to-left" else "ltr"


@cache
def _category_samples(language: str) -> dict[str, int]:
    """A whole number of each CLDR plural category of ``language`` (``one`` → 1, …)."""
    rule = Locale.parse(language).plural_form
    samples: dict[str, int] = {}
    for n in [*range(1000), 1_000_000]:  # a million: French, Spanish… "many"
        samples.setdefault(rule(n), n)
    # "other" may hold only fractions (Russian…): the browser falls back to it, so give it
    # the form of a plain count.
    samples.setdefault("other", 5)
    return samples


#: The reader page's, embed's and update pages' strings, keyed as the templates and the
#: browser read them.
READER_MESSAGES: MessageTable = {
    "live": N_("Live"),
    "ended": N_("Ended"),
    "ended_notice": N_("This live blog has ended."),
    "pinned": N_("Pinned"),
    "key_event": N_("Key event"),
    "key_events": N_("Key events"),
    "permalink": N_("Link to this update"),
    "older": N_("Older updates"),
    "newer": N_("Back to the latest updates"),
    "newer_page": N_("Newer updates"),
    "in_timeline": N_("See this update in the live timeline"),
    "update_deleted": N_("This update was deleted."),
    # An edited update's discreet mark; {time} is the clock time of the last edit.
    "updated": N_("updated {time}"),
    "to_feed": N_("Go to the live blog"),
    "update_of": N_("Update from"),
    "no_such_update": N_("No update {id} in “{feed}”."),
    "no_such_page": N_("No such page of “{feed}”."),
    "no_such_feed": N_("No live blog called “{feed}”."),
    "one_cursor": N_("Use only one of before, around and after."),
    "loading": N_("Loading…"),
    "load_failed": N_("Could not load older updates. Try again."),
    "new_updates": N_plural("{n} new update", "{n} new updates"),
    # What the screen reader is told: the same words as the button.
    "announce_new": N_plural("{n} new update", "{n} new updates"),
    "entries_count": N_plural("{n} update", "{n} updates"),
    "readers_count": N_plural("{n} reader", "{n} readers"),
    "status_live": N_("Live"),
    "status_connecting": N_("Connecting…"),
    "status_offline": N_("Offline — will catch up when back online"),
    "status_reconnecting": N_("Reconnecting…"),
    "no_entries": N_("No updates yet."),
    "feeds": N_("Live blogs"),
    "no_feeds": N_("No live blogs yet."),
    "not_found": N_("Not found"),
    "all_feeds": N_("All live blogs"),
    "atom": N_("Atom feed"),
    "timeline": N_("Updates"),
}


def translate_table(table: MessageTable, tag: str) -> dict[str, Any]:
    """``table`` in the language of the locale ``tag`` (else English): each message translated
    by its catalog, a plural one as ``{category: form}`` for every CLDR plural category of the
    language (each form the catalog's ``ngettext`` at a number of that category)."""
    language = language_of(tag)
    t = translations(language)
    out: dict[str, Any] = {}
    for key, message in table.items():
        if isinstance(message, PluralMessage):
            out[key] = {
                category: t.ngettext(message.singular, message.plural, n)
                for category, n in _category_samples(language).items()
            }
        else:
            out[key] = t.gettext(message)
    return out


@cache
def _strings_of(language: str) -> dict[str, Any]:
    return translate_table(READER_MESSAGES, language)


def ui_strings(tag: str) -> dict[str, Any]:
    """Every UI string for the locale ``tag`` (``fr-FR``…), in its language (else English)."""
    return _strings_of(language_of(tag))
