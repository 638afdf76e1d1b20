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
from collections.abc import Callable
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


def N_(text: str) -> str:
    """Mark ``text`` as a msgid for ``make messages`` where it is defined (a table of another
    module); it is translated where it is shown, with :func:`gettext`."""
    return text


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


def _plural_forms(language: str, plural: Callable[[int], str]) -> dict[str, str]:
    """``{category: form}`` of one plural message, each form the catalog's for that category."""
    return {category: plural(n) for category, n in _category_samples(language).items()}


def _messages(language: str) -> dict[str, Any]:
    t = translations(language)
    _ = t.gettext

    def plural(singular_plural: Callable[[int], str]) -> dict[str, str]:
        return _plural_forms(language, singular_plural)

    new_updates = plural(lambda n: t.ngettext("{n} new update", "{n} new updates", n))
    return {
        "live": _("Live"),
        "ended": _("Ended"),
        "ended_notice": _("This live blog has ended."),
        "pinned": _("Pinned"),
        "key_event": _("Key event"),
        "key_events": _("Key events"),
        "permalink": _("Link to this update"),
        "older": _("Older updates"),
        "newer": _("Back to the latest updates"),
        "newer_page": _("Newer updates"),
        "in_timeline": _("See this update in the live timeline"),
        "update_deleted": _("This update was deleted."),
        "to_feed": _("Go to the live blog"),
        "update_of": _("Update from"),
        "no_such_update": _("No update {id} in “{feed}”."),
        "no_such_page": _("No such page of “{feed}”."),
        "loading": _("Loading…"),
        "load_failed": _("Could not load older updates. Try again."),
        "new_updates": new_updates,
        # What the screen reader is told: the same words as the button.
        "announce_new": new_updates,
        "entries_count": plural(lambda n: t.ngettext("{n} update", "{n} updates", n)),
        "readers_count": plural(lambda n: t.ngettext("{n} reader", "{n} readers", n)),
        "status_live": _("Live"),
        "status_connecting": _("Connecting…"),
        "status_offline": _("Offline — will catch up when back online"),
        "status_reconnecting": _("Reconnecting…"),
        "no_entries": _("No updates yet."),
        "feeds": _("Live blogs"),
        "no_feeds": _("No live blogs yet."),
        "not_found": _("Not found"),
        "all_feeds": _("All live blogs"),
        "atom": _("Atom feed"),
        "timeline": _("Updates"),
    }


@cache
def _strings_of(language: str) -> dict[str, Any]:
    return _messages(language)


def ui_strings(tag: str) -> dict[str, Any]:
    """Every UI string for the locale ``tag`` (``fr-FR``…), in its language (else English)."""
    return _strings_of(language_of(tag))
