"""Every UI string of the studio (``/studio``), keyed as its template and its browser code read
them, translated through the gettext catalogs (:mod:`app.i18n`).

Contracts:

* :data:`STUDIO_MESSAGES` is the one place a studio string is written: the template reads
  ``s.<key>`` and the browser code ``t("<key>")`` / ``tn("<key>", n)`` (``web/static/studio/
  i18n.js``), from the ``<script type="application/json" id="sd-strings">`` the page carries
  (:func:`studio_config`). No studio word is written in JavaScript or HTML.
* A message is ``N_("…")`` or, when it counts something, ``N_plural("{n} …", "{n} …s")``; other
  placeholders are ``{name}`` fields the caller fills (``t("feed_created", {title})``).
* Adding a string: add the key here, use it, run ``make messages``, translate the new msgid in
  every ``app/locale/<lang>/LC_MESSAGES/messages.po`` (the test suite fails on a missing or
  untranslated one, and on a key the browser code uses that is not here).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from app import i18n
from app.i18n import N_, MessageTable, N_plural

STUDIO_MESSAGES: MessageTable = {
    # -- page, header, language chooser
    "page_title": N_("Studio — livefeed"),
    "product": N_("Studio"),
    "skip": N_("Skip to the console"),
    "language": N_("Language"),
    "change_language": N_("Change language"),
    "sign_out": N_("Sign out"),
    "dismiss": N_("Dismiss message"),
    # -- sign in
    "signin_title": N_("Sign in to the studio"),
    "token_label": N_("Reporter or admin token"),
    "token_hint": N_("Kept in this tab only; closing the tab signs you out."),
    "sign_in": N_("Sign in"),
    "token_missing": N_("Paste the token you were given."),
    "token_invalid": N_("That token is not valid, or it was revoked."),
    "token_expired": N_(
        "Your token has expired or was revoked. Sign in again — your draft is kept."
    ),
    "signed_out": N_("Signed out."),
    # -- the open feed
    "open_reader": N_("Open reader page"),
    "readers_count": N_plural("{n} reader", "{n} readers"),
}


@cache
def _strings_of(language: str) -> dict[str, Any]:
    return i18n.translate_table(STUDIO_MESSAGES, language)


def studio_strings(tag: str) -> dict[str, Any]:
    """Every studio string in the language of the locale ``tag`` (else English)."""
    return _strings_of(i18n.language_of(tag))


def studio_config(language: str) -> dict[str, Any]:
    """What the studio page hands its browser code: ``{"locale", "strings"}`` (plural
    messages as ``{category: form}``, picked with ``Intl.PluralRules(locale)``)."""
    return {"locale": language, "strings": studio_strings(language)}
