"""Outgoing mail: the "forgot password" message, through the SMTP server of
``LIVEFEED_SMTP_URL`` (Python's ``smtplib`` and ``email``, in a worker thread).

Contracts:

* :func:`send_reset_mail` sends one plain-text message with the reset link, in the language
  given, from ``LIVEFEED_MAIL_FROM``; it raises :class:`MailFailed` (never hangs longer than
  :data:`TIMEOUT_SECONDS` per SMTP step) so the caller can answer the same page either way.
* ``smtp://`` speaks plain SMTP, ``smtp+starttls://`` upgrades with STARTTLS, ``smtps://`` is
  TLS from the start; user and password in the URL log in.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from app import i18n
from app.config import Settings
from app.i18n import N_

TIMEOUT_SECONDS = 10.0
SUBJECT = N_("Set your livefeed password")
BODY = N_(
    "Someone asked to set a new password for your livefeed account.\n\n"
    "To choose one, open this link (it works once, for {hours} hours):\n\n{link}\n\n"
    "If it was not you, ignore this message: your password stays as it is."
)


class MailFailed(Exception):
    """The SMTP server could not be reached or refused the message."""


def _send(settings: Settings, message: EmailMessage) -> None:
    assert settings.smtp_url is not None
    url = urlsplit(settings.smtp_url)
    host, port = url.hostname or "localhost", url.port
    try:
        if url.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port or 465, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port or 25, timeout=TIMEOUT_SECONDS)
        with client:
            if url.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailFailed(f"{type(exc).__name__}: {exc}") from None


async def send_reset_mail(settings: Settings, to: str, link: str, language: str) -> None:
    """Mail ``link`` to ``to`` (see the module contract)."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = i18n.gettext(language, SUBJECT)
    hours = f"{settings.reset_link_max_age_seconds / 3600:g}"
    message.set_content(i18n.gettext(language, BODY).format(hours=hours, link=link))
    await asyncio.to_thread(_send, settings, message)
