"""Sessions against real ``livefeed serve`` processes: a change to an account holds at once in
every process, the cookie's ``Secure`` flag follows the trusted ``X-Forwarded-Proto``, and in
Chromium a page on another origin cannot make the victim's browser act with its cookie."""

from __future__ import annotations

import email
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page

from tests.live_support import migrate
from tests.support.services import LivefeedServer, free_port, port_is_open, wait_until

PASSWORD = "correct horse battery"
ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    migrate(url)
    return url


def _account(base: str, email: str, feed: str) -> int:
    made = httpx.post(
        f"{base}/api/users",
        json={"email": email, "role": "editor", "password": PASSWORD},
        headers=ADMIN,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    user_id: int = made.json()["id"]
    member = httpx.put(
        f"{base}/api/feeds/{feed}/members/{user_id}",
        json={"role": "editor"},
        headers=ADMIN,
        timeout=30,
    )
    assert member.status_code == 200, member.text
    return user_id


def _sign_in(base: str, email: str, password: str = PASSWORD) -> dict[str, str]:
    signed = httpx.post(
        f"{base}/api/session", json={"email": email, "password": password}, timeout=30
    )
    assert signed.status_code == 201, signed.text
    return {
        "Cookie": f"livefeed_session={signed.cookies['livefeed_session']}",
        "X-CSRF-Token": signed.json()["csrf_token"],
    }


def _whoami(base: str, auth: dict[str, str]) -> int:
    return httpx.get(f"{base}/api/whoami", headers=auth, timeout=30).status_code


def _post(base: str, auth: dict[str, str], feed: str) -> int:
    response = httpx.post(
        f"{base}/api/feeds/{feed}/entries",
        json={"body": "from a session"},
        headers=auth,
        timeout=30,
    )
    return response.status_code


def test_disable_logout_everywhere_and_reset_hold_at_once_in_every_process(
    livefeed_factory: Callable[..., LivefeedServer], shared_database: str
) -> None:
    env = {"LIVEFEED_DATABASE_URL": shared_database, "LIVEFEED_ADMIN_TOKEN": ADMIN_TOKEN}
    one, two = livefeed_factory(env), livefeed_factory(env)
    a, b = one.base_url, two.base_url
    created = httpx.post(f"{a}/api/feeds", json={"slug": "desk", "title": "d"}, headers=ADMIN)
    assert created.status_code == 201
    user_id = _account(a, "ana@example.org", "desk")

    # Disabled through process two: process one refuses the session on its next request.
    session = _sign_in(a, "ana@example.org")
    assert _whoami(a, session) == _whoami(b, session) == 200
    assert _post(a, session, "desk") == 201
    off = httpx.patch(f"{b}/api/users/{user_id}", json={"disabled": True}, headers=ADMIN)
    assert off.status_code == 200
    assert _whoami(a, session) == 401 and _post(a, session, "desk") == 401
    assert _whoami(b, session) == 401
    httpx.patch(f"{b}/api/users/{user_id}", json={"disabled": False}, headers=ADMIN)
    assert _whoami(a, session) == 401, "re-enabling revived an old session"

    # Logout everywhere from process two ends the session used on process one.
    first, second = _sign_in(a, "ana@example.org"), _sign_in(b, "ana@example.org")
    assert _whoami(a, first) == 200
    ended = httpx.post(f"{b}/api/session/logout-everywhere", headers=second, timeout=30)
    assert ended.status_code == 204
    assert _whoami(a, first) == 401 and _whoami(b, second) == 401

    # A reset link used on process two ends the session on process one; works once.
    session = _sign_in(a, "ana@example.org")
    link = httpx.post(f"{a}/api/users/{user_id}/reset-link", headers=ADMIN).json()["reset_link"]
    path = httpx.URL(link).path
    new = "a new passphrase"
    used = httpx.post(f"{b}{path}", data={"password": new, "repeat": new}, timeout=30)
    assert used.status_code == 303
    assert _whoami(a, session) == 401
    again = httpx.post(f"{a}{path}", data={"password": new, "repeat": new}, timeout=30)
    assert again.status_code == 410
    assert _whoami(a, _sign_in(a, "ana@example.org", new)) == 200
    for server in (one, two):
        assert "Traceback" not in server.log_text()


def test_the_login_limit_holds_across_processes(
    livefeed_factory: Callable[..., LivefeedServer], shared_database: str
) -> None:
    env = {
        "LIVEFEED_DATABASE_URL": shared_database,
        "LIVEFEED_ADMIN_TOKEN": ADMIN_TOKEN,
        "LIVEFEED_LOGIN_MAX_FAILURES_PER_ACCOUNT": "4",
    }
    one, two = livefeed_factory(env), livefeed_factory(env)
    httpx.post(f"{one.base_url}/api/feeds", json={"slug": "desk", "title": "d"}, headers=ADMIN)
    _account(one.base_url, "bo@example.org", "desk")
    for n in range(4):
        server = (one, two)[n % 2]
        wrong = httpx.post(
            server.url("/api/session"),
            json={"email": "bo@example.org", "password": "wrong password"},
            timeout=30,
        )
        assert wrong.status_code == 401
    for server in (one, two):
        limited = httpx.post(
            server.url("/api/session"),
            json={"email": "bo@example.org", "password": PASSWORD},
            timeout=30,
        )
        assert limited.status_code == 429, limited.text
        assert int(limited.headers["retry-after"]) >= 1
        assert "for this account" in limited.json()["detail"]


def test_the_address_limit_counts_failures_for_any_account(
    livefeed_factory: Callable[..., LivefeedServer], tmp_path: Path
) -> None:
    server = livefeed_factory(
        {
            "LIVEFEED_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/a.db",
            "LIVEFEED_LOGIN_MAX_FAILURES_PER_ADDRESS": "3",
        }
    )
    httpx.post(server.url("/api/feeds"), json={"slug": "desk", "title": "d"}, headers=ADMIN)
    _account(server.base_url, "di@example.org", "desk")
    for n in range(3):  # three different (unknown) accounts from one address
        wrong = httpx.post(
            server.url("/api/session"),
            json={"email": f"guess{n}@example.org", "password": "wrong password"},
            timeout=30,
        )
        assert wrong.status_code == 401
    limited = httpx.post(
        server.url("/api/session"),
        json={"email": "di@example.org", "password": PASSWORD},
        timeout=30,
    )
    assert limited.status_code == 429 and "for this address" in limited.json()["detail"]
    # Another client address (through the trusted proxy rule) is not limited.
    other = httpx.post(
        server.url("/api/session"),
        json={"email": "di@example.org", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.7"},
        timeout=30,
    )
    assert other.status_code == 201, other.text


@pytest.mark.parametrize(
    ("trusted", "secure"), [("127.0.0.1", True), ("10.9.9.9", False)], ids=["trusted", "not"]
)
def test_the_cookie_is_secure_behind_a_trusted_https_proxy(
    livefeed_factory: Callable[..., LivefeedServer], tmp_path: Path, trusted: str, secure: bool
) -> None:
    server = livefeed_factory(
        {
            "LIVEFEED_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db",
            "LIVEFEED_FORWARDED_ALLOW_IPS": trusted,
            "LIVEFEED_PUBLIC_URL": "https://live.example",
        }
    )
    httpx.post(server.url("/api/feeds"), json={"slug": "desk", "title": "d"}, headers=ADMIN)
    _account(server.base_url, "cy@example.org", "desk")
    signed = httpx.post(
        server.url("/api/session"),
        json={"email": "cy@example.org", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https", "Origin": "https://live.example"},
        timeout=30,
    )
    # From an untrusted peer the header is ignored: the request is plain HTTP.
    assert signed.status_code == 201, signed.text
    flags = {part.strip().lower() for part in signed.headers["set-cookie"].split(";")[1:]}
    assert ("secure" in flags) is secure
    assert {"httponly", "samesite=lax", "path=/"} <= flags


# -- Chromium: cross-site requests with the victim's cookie --------------------------------

ATTACK_PAGE = """<!doctype html>
<html><body>
<iframe name="sink"></iframe>
<form id="f" method="post" action="{app}/api/session/logout-everywhere" target="sink"></form>
<script>
(async () => {{
  // A multipart upload is a "simple" request: no preflight, the cookie goes along.
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 8;
  const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
  const form = new FormData();
  form.append("file", blob, "x.png");
  form.append("alt", "csrf");
  await fetch("{app}/api/feeds/desk/media",
              {{method: "POST", body: form, mode: "no-cors", credentials: "include"}});
  document.getElementById("f").submit();
}})();
</script>
</body></html>
"""


@pytest.fixture
def attacker() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on another origin; the page is set in the returned list's first item."""
    content: list[str] = [""]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = content[0].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    port = free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/", content
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_a_page_on_another_origin_cannot_act_with_the_victims_cookie(
    livefeed_factory: Callable[..., LivefeedServer],
    tmp_path: Path,
    page: Page,
    attacker: tuple[str, list[str]],
) -> None:
    server = livefeed_factory({"LIVEFEED_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"})
    app = server.base_url
    async with httpx.AsyncClient(base_url=app, headers=ADMIN, timeout=30) as http:
        assert (
            await http.post("/api/feeds", json={"slug": "desk", "title": "d"})
        ).status_code == 201
        made = await http.post(
            "/api/users", json={"email": "vic@example.org", "role": "editor", "password": PASSWORD}
        )
        member = await http.put(
            f"/api/feeds/desk/members/{made.json()['id']}", json={"role": "editor"}
        )
        assert member.status_code == 200

    # The victim signs in with the plain form (no JS needed) and lands in the studio.
    await page.goto(f"{app}/login")
    await page.fill("#lf-email", "vic@example.org")
    await page.fill("#lf-password", PASSWORD)
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    assert page.url == f"{app}/studio"
    assert (await page.request.get(f"{app}/api/whoami")).status == 200

    url, content = attacker
    content[0] = ATTACK_PAGE.format(app=app)
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    async with page.expect_response(lambda r: "logout-everywhere" in r.url):
        await page.goto(url)
    statuses: dict[str, int] = {}
    sent_cookie: dict[str, bool] = {}
    for response in responses:
        for name in ("logout-everywhere", "/media"):
            if name in response.url:
                statuses[name] = response.status
                headers = await response.request.all_headers()
                sent_cookie[name] = "livefeed_session=" in headers.get("cookie", "")
    # The browser did send the cookie (another origin, same site) and the server refused:
    # 403, not the 401 of a request without a session (Playwright does not show the cookie
    # of a no-cors fetch, but shows the form's).
    assert statuses == {"/media": 403, "logout-everywhere": 403}, statuses
    assert sent_cookie["logout-everywhere"], "the form post went without the cookie"
    # Still signed in, and nothing was uploaded.
    assert (await page.request.get(f"{app}/api/whoami")).status == 200
    log = server.log_text()
    assert "POST /api/feeds/{slug}/media 403" in log
    assert "POST /api/session/logout-everywhere 403" in log
    assert "Traceback" not in log


# -- "forgot password" mail through a real SMTP server process -----------------------------


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """``python -m aiosmtpd`` storing every message it accepts in a maildir."""
    maildir = tmp_path / "maildir"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Mailbox", str(maildir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_until(lambda: port_is_open(port), timeout=20, message="aiosmtpd did not start")
        yield port, maildir
    finally:
        process.terminate()
        process.wait(timeout=10)


def _mails(maildir: Path) -> list[email.message.Message]:
    found = sorted((maildir / "new").glob("*")) if (maildir / "new").exists() else []
    return [email.message_from_bytes(path.read_bytes()) for path in found]


def test_a_forgotten_password_is_mailed_a_one_time_link(
    livefeed_factory: Callable[..., LivefeedServer],
    tmp_path: Path,
    smtp_server: tuple[int, Path],
) -> None:
    port, maildir = smtp_server
    server = livefeed_factory(
        {
            "LIVEFEED_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/m.db",
            "LIVEFEED_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "LIVEFEED_MAIL_FROM": "desk@live.example",
        }
    )
    httpx.post(server.url("/api/feeds"), json={"slug": "desk", "title": "d"}, headers=ADMIN)
    _account(server.base_url, "Eli@Example.org", "desk")
    session = _sign_in(server.base_url, "eli@example.org")
    login = httpx.get(server.url("/login"), timeout=30)
    assert '<a href="/forgot">' in login.text
    # An unknown address gets the same answer as a known one, and no mail.
    unknown = httpx.post(server.url("/forgot"), data={"email": "nobody@example.org"}, timeout=30)
    known = httpx.post(
        server.url("/forgot"),
        data={"email": "ELI@example.org"},
        headers={"Accept-Language": "fr"},
        timeout=30,
    )
    assert unknown.status_code == known.status_code == 200
    assert "Si un compte utilise cette adresse" in known.text
    wait_until(lambda: len(_mails(maildir)) >= 1, timeout=30, message="no mail arrived")
    mails = _mails(maildir)
    assert len(mails) == 1, [m["To"] for m in mails]
    mail = mails[0]
    assert (mail["To"], mail["From"]) == ("Eli@Example.org", "desk@live.example")
    assert mail["Subject"] == "Choisissez votre mot de passe livefeed"
    text = mail.get_payload(decode=True).decode()
    link = re.search(r"http://\S+/reset/[A-Za-z0-9_-]+", text)
    assert link, text
    path = httpx.URL(link.group(0)).path
    new = "mailed passphrase"
    used = httpx.post(server.url(path), data={"password": new, "repeat": new}, timeout=30)
    assert used.status_code == 303
    assert _whoami(server.base_url, session) == 401  # every session ended
    again = httpx.post(server.url(path), data={"password": new, "repeat": new}, timeout=30)
    assert again.status_code == 410
    assert _whoami(server.base_url, _sign_in(server.base_url, "eli@example.org", new)) == 200
    assert "Traceback" not in server.log_text()


def test_without_smtp_there_is_no_forgot_page(
    livefeed_factory: Callable[..., LivefeedServer], tmp_path: Path
) -> None:
    server = livefeed_factory({"LIVEFEED_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/n.db"})
    assert httpx.get(server.url("/forgot"), timeout=30).status_code == 404
    assert "/forgot" not in httpx.get(server.url("/login"), timeout=30).text
