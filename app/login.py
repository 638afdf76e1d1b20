"""The sign-in page ``/login`` and the password-reset page ``/reset/{token}``: server-rendered
forms that work without JavaScript.

Contracts:

* ``POST /login`` (form ``email``, ``password``) signs in like ``POST /api/session`` (same
  limits, same cookie) and redirects to ``/studio`` (303); a refusal re-renders the form with
  the reason and the API's status (401, 403, 429 with ``Retry-After``).
* ``GET /reset/{token}`` shows the new-password form while the link is usable, else 410.
  ``POST /reset/{token}`` (``password``, ``repeat``) sets the password once, ends every session
  of the account and redirects to ``/login?reset=1`` (303); a bad password re-renders (422).
* ``/forgot`` (only with ``LIVEFEED_SMTP_URL``; else 404) mails a reset link to an enabled
  account's address and answers the same page whatever the address (no account discovery).
* The pages are in the browser's language (``Accept-Language``, among the catalogs of
  :mod:`app.i18n`), carry the studio's CSP, are never framed or cached, and never sent as a
  referrer to another site (the reset token is in the URL); a cross-site ``Origin`` on a POST
  is refused (403).
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from app import i18n
from app.auth import (
    AccountDisabled,
    TooManyAttempts,
    WrongCredentials,
    log_in,
    request_reset_mail,
    same_site_origin,
    set_session_cookie,
)
from app.deps import StateDep
from app.i18n import N_
from app.passwords import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, hash_password
from app.templating import CSP, templates
from app.text import check_text

router = APIRouter(include_in_schema=False)

PAGE_CSP = CSP + "; frame-ancestors 'none'"
HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "Cache-Control": "no-store",
    # Never a referrer to another site (the reset token is in the URL), but the page's own
    # origin on its form posts: under no-referrer browsers send "Origin: null", refused.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

#: The pages' words (msgids; translated in app/locale/*/LC_MESSAGES/messages.po).
STRINGS = {
    "sign_in": N_("Sign in"),
    "email": N_("Email address"),
    "password": N_("Password"),
    "new_password": N_("New password"),
    "repeat_password": N_("Repeat the new password"),
    "password_rule": N_("At least 10 characters."),
    "save_password": N_("Save the password"),
    "set_password": N_("Set a new password"),
    "forgot": N_("Forgot your password?"),
    "send_link": N_("Send me a link"),
}
WRONG = N_("Wrong email address or password.")
DISABLED = N_("This account is disabled.")
TOO_MANY = N_("Too many failed sign-ins. Try again in {minutes} min.")
CROSS_SITE = N_("Refused: the form was sent from another site.")
MISSING = N_("Fill in both fields.")
PASSWORD_SET = N_("Your password is set. Sign in with it.")
TOO_SHORT = N_("At least 10 characters.")
DIFFERENT = N_("The two passwords differ.")
LINK_GONE = N_("This link was already used or has expired. Ask an admin for a new one.")
LINK_SENT = N_("If an account uses this address, a link to set a new password is on its way.")


def page_language(request: Request) -> str:
    """The first language of ``Accept-Language`` (by weight) that has a catalog, else en."""
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and tag != "*":
            weighted.append((-weight, index, tag))
    for _weight, _index, tag in sorted(weighted):
        language = i18n.language_of(tag)
        if language != "en" or tag.lower().startswith("en"):
            return language
    return "en"


def _render(
    request: Request,
    form: str,
    status: int = 200,
    *,
    error: str = "",
    notice: str = "",
    email: str = "",
    token: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    language = page_language(request)
    strings = {key: i18n.gettext(language, text) for key, text in STRINGS.items()}
    heading = strings["set_password"] if form in ("reset", "gone", "forgot") else strings["sign_in"]
    html = (
        templates()
        .get_template("login.html")
        .render(
            form=form,
            s=strings,
            heading=heading,
            error=i18n.gettext(language, error) if error else "",
            notice=notice,
            email=email,
            token=token,
            lang=language,
            dir=i18n.text_direction(language),
            can_mail=request.app.state.livefeed.settings.smtp_url is not None,
        )
    )
    return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    try:
        return check_text(value)
    except ValueError:
        return ""


@router.get("/login")
async def login_page(request: Request) -> Response:
    notice = ""
    if request.query_params.get("reset") == "1":
        notice = i18n.gettext(page_language(request), PASSWORD_SET)
    return _render(request, "login", notice=notice)


@router.post("/login")
async def login_form(request: Request, state: StateDep) -> Response:
    if not same_site_origin(request, state.settings):
        return _render(request, "login", 403, error=CROSS_SITE)
    form = await request.form()
    email = _field(form, "email").strip()[:254]
    password = _field(form, "password")[:MAX_PASSWORD_CHARS]
    if not email or not password:
        return _render(request, "login", 422, error=MISSING, email=email)
    address = request.client.host if request.client else "unknown"
    try:
        token, _account = await log_in(state, email, password, address)
    except TooManyAttempts as exc:
        language = page_language(request)
        message = i18n.gettext(language, TOO_MANY).format(minutes=math.ceil(exc.retry_after / 60))
        return _render(
            request,
            "login",
            429,
            email=email,
            notice="",
            error=message,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except WrongCredentials:
        return _render(request, "login", 401, error=WRONG, email=email)
    except AccountDisabled:
        return _render(request, "login", 403, error=DISABLED, email=email)
    response = RedirectResponse("/studio", status_code=303)
    set_session_cookie(response, request, token, state.settings.session_max_age_seconds)
    return response


@router.get("/reset/{token}")
async def reset_page(request: Request, token: str, state: StateDep) -> Response:
    account = await state.accounts.reset_account(token) if len(token) <= 100 else None
    if account is None:
        return _render(request, "gone", 410, error=LINK_GONE)
    return _render(request, "reset", email=account.email, token=token)


@router.post("/reset/{token}")
async def reset_form(request: Request, token: str, state: StateDep) -> Response:
    if not same_site_origin(request, state.settings):
        return _render(request, "gone", 403, error=CROSS_SITE)
    account = await state.accounts.reset_account(token) if len(token) <= 100 else None
    if account is None:
        return _render(request, "gone", 410, error=LINK_GONE)
    form = await request.form()
    password, repeat = _field(form, "password"), _field(form, "repeat")
    problem = ""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        problem = TOO_SHORT
    elif password != repeat:
        problem = DIFFERENT
    if problem:
        return _render(request, "reset", 422, error=problem, email=account.email, token=token)
    if await state.accounts.use_reset(token, await hash_password(password)) is None:
        return _render(request, "gone", 410, error=LINK_GONE)
    await state.team.revoke(user_id=account.id)  # every session ended: its team channels too
    return RedirectResponse("/login?reset=1", status_code=303)


@router.get("/forgot")
async def forgot_page(request: Request, state: StateDep) -> Response:
    if state.settings.smtp_url is None:
        return _render(request, "gone", 404, error=LINK_GONE)
    return _render(request, "forgot")


@router.post("/forgot")
async def forgot_form(request: Request, state: StateDep) -> Response:
    """Mail a reset link when ``LIVEFEED_SMTP_URL`` is set. The answer is the same whether
    or not the address has an account; each request counts as a failed login for the
    address and the account (so mails are limited like guesses)."""
    if state.settings.smtp_url is None:
        return _render(request, "gone", 404, error=LINK_GONE)
    if not same_site_origin(request, state.settings):
        return _render(request, "forgot", 403, error=CROSS_SITE)
    email = _field(await request.form(), "email").strip()[:254]
    if not email:
        return _render(request, "forgot", 422, error=MISSING)
    address = request.client.host if request.client else "unknown"
    language = page_language(request)
    try:
        await request_reset_mail(state, email, address, language)
    except TooManyAttempts as exc:
        message = i18n.gettext(language, TOO_MANY).format(minutes=math.ceil(exc.retry_after / 60))
        return _render(
            request, "forgot", 429, error=message, headers={"Retry-After": str(exc.retry_after)}
        )
    return _render(request, "gone", 200, notice=i18n.gettext(language, LINK_SENT))
