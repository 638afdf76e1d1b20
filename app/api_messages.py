"""API error messages in the caller's language: the ``message`` beside an error's ``detail``.

Contracts:

* ``detail`` stays the English text it always was: clients and tests match on it, so it is
  never translated. When a request sends ``Accept-Language`` naming one of
  :data:`app.i18n.LANGUAGES`, the error body also has ``message``: the same words in that
  language (:func:`localized`). Without the header, or with none of those languages, the body
  is exactly what it was (no ``message``).
* :data:`API_MESSAGES` lists the templates details are made from, as msgids (``N_``) whose
  ``{fields}`` stand for what varies (a quoted slug, a number, another message).
  :func:`localized` finds the template a detail fits, takes its fields from the detail and
  puts them into the translated template; a detail that fits none stays English in
  ``message`` too (a new error without a template degrades, it never fails). A validation
  error's detail (``where: problem; …``) is localized part by part.
* A field that is itself a message (``{error}`` of ``malformed JSON: {error}``) is left as it
  came: only the template's words are translated.
"""

from __future__ import annotations

import re
from functools import cache

from app import i18n
from app.i18n import N_

#: Error details, most specific first (the first template a detail fits is used).
API_MESSAGES: tuple[str, ...] = (
    # -- tokens and permissions (app/deps.py, app/studio.py)
    N_("missing bearer token"),
    N_("invalid or revoked token"),
    N_("this needs the admin token"),
    N_("this token cannot write to feed {slug}"),
    # -- accounts and sessions (app/auth.py, app/deps.py, app/api/accounts.py, app/store)
    N_("sign in: send a bearer token or the session cookie"),
    N_("missing the right {right} on feed {slug}"),
    N_("missing the right {right}"),
    N_("cross-site sign-in refused"),
    N_("cross-site request refused: Origin {origin}"),
    N_(
        "CSRF token missing: send the {header} header (from GET /api/whoami) "
        "or a {field} form field"
    ),
    N_("CSRF token does not match this session"),
    N_("wrong email address or password"),
    N_("this account is disabled"),
    N_("only a signed-in account has sessions (not a bearer token)"),
    N_("too many failed logins for this {scope}; retry in {seconds} s"),
    N_("an account with the address {email} exists"),
    N_("account {id} is not a member of feed {slug}"),
    N_("account {id} not found"),
    # -- feeds, entries, tokens (app/store, app/api)
    N_("feed {slug} not found"),
    N_("a feed with slug {slug} already exists"),
    N_("entry {id} not found in feed {slug}"),
    N_("entry {id} was deleted"),
    N_("entry {id} is not deleted"),
    N_("entry {id} was deleted before its text was kept"),
    N_("entry {id} has no revision {number}"),
    N_("an entry cannot go from {current} to {target} (unpublish it to draft first)"),
    N_("an entry cannot go from {current} to {target}"),
    N_("before does not go with status (the team's lists are not paged)"),
    N_("token {id} not found"),
    N_("{cursor} is not an entry of feed {slug}"),
    N_("entry body is {length} characters; the limit is {limit}"),
    N_("Idempotency-Key was already used with a different body"),
    N_("could not settle a concurrent request with the same Idempotency-Key"),
    N_("Last-Event-ID must be a rev (an integer)"),
    # -- media and cards (app/api/media.py, app/store)
    N_("file is over {limit} bytes (LIVEFEED_MAX_UPLOAD_BYTES)"),
    N_("file: the upload is empty"),
    N_("file: not a supported image: upload a JPEG, PNG, GIF or WebP file"),
    N_("file: the image data is damaged: {error}"),
    N_("url: must start with http:// or https://"),
    N_("media: the same id is listed twice"),
    N_("media: no upload {id} in feed {slug}"),
    N_(
        "media {id}: alt text is required before publishing "
        '(send "alt": "" only for a purely decorative image)'
    ),
    N_('media {id}: alt text is required (send "alt": "" only for a purely decorative image)'),
    N_("feed: required to preview media"),
    # -- oEmbed (app/embeds.py)
    N_("{url} is not a page of {site}"),
    N_("no embeddable live blog at this URL"),
    # -- request shape (app/errors.py, app/http_limits.py)
    N_("request body too large: the limit is {limit} bytes ({setting})"),
    N_("invalid Content-Length"),
    N_("request body is required (JSON)"),
    N_("malformed JSON: {error}"),
    N_("{where}: unknown field"),
    N_("{where}: Field required"),
    N_("{where}: String should have at most {n} characters"),
    N_("{where}: String should have at least {n} characters"),
    N_("{where}: Input should be a valid integer, unable to parse string as an integer"),
    N_("{where}: Input should be a valid string"),
    N_("{where}: Input should be a valid boolean"),
    N_("{where}: Value error, unknown locale {value}; use a tag like fr-FR or en-GB"),
    N_("{where}: Value error, unknown time zone {value}; use an IANA name like Europe/Paris"),
    N_("{where}: Value error, {error}"),
    N_("internal error"),
)

_FIELD = re.compile(r"\\\{(\w+)\\\}")


@cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each template with the regular expression of the details it makes."""
    return tuple(
        (template, re.compile(_FIELD.sub(r"(?P<\1>.+?)", re.escape(template)), re.DOTALL))
        for template in API_MESSAGES
    )


def localized(detail: str, language: str) -> str:
    """``detail`` (English, as the API wrote it) in ``language``; as it is when no template
    of :data:`API_MESSAGES` fits it."""
    for template, pattern in _patterns():
        found = pattern.fullmatch(detail)
        if found:
            translated = i18n.translations(language).gettext(template)
            return _fill(translated, found.groupdict())
    return detail


def _fill(template: str, fields: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: fields.get(m.group(1), m.group(0)), template)


def localized_parts(parts: list[str], language: str) -> str:
    """A validation error's parts, each localized, joined as its ``detail`` joins them."""
    return "; ".join(localized(part, language) for part in parts)


def requested_language(accept_language: str | None) -> str | None:
    """The language an ``Accept-Language`` header asks the API's messages in; ``None`` when
    it is absent or names none of the catalogs (then the body has no ``message``)."""
    return i18n.accepted_language(accept_language)
