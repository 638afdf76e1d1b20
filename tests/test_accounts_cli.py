"""``livefeed users …`` and ``livefeed members …``, and the first admin account of
``livefeed serve``: run as a user runs them (subprocesses), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.support.services import LivefeedServer
from tests.test_cli import run


@pytest.fixture
def cli_env(database_url: str) -> dict[str, str]:
    env = {"LIVEFEED_DATABASE_URL": database_url, "LIVEFEED_PUBLIC_URL": "https://live.example"}
    run(env, "migrate")
    run(env, "feeds", "create", "moscou", "--title", "Moscou")
    return env


def test_users_create_list_disable_enable_and_reset_link(cli_env: dict[str, str]) -> None:
    made = run(cli_env, "users", "create", "Ana@Example.org", "--role", "editor", "--name", "Ana",
               "--feed", "moscou")  # fmt: skip
    link = made.stdout.strip()
    assert re.fullmatch(r"https://live\.example/reset/[A-Za-z0-9_-]{40,}", link), made.stdout
    assert "shown once" in made.stderr
    generated = run(cli_env, "users", "create", "ben@example.org", "--role", "contributor",
                    "--generate-password")  # fmt: skip
    assert len(generated.stdout.strip()) >= 20 and "password" in generated.stderr
    listed = run(cli_env, "users", "list").stdout.splitlines()
    assert [line.split("\t")[1:] for line in listed] == [
        ["active", "editor", "Ana@Example.org", "Ana", "moscou:editor"],
        ["active", "contributor", "ben@example.org", "ben", "-"],
    ]
    duplicate = run(cli_env, "users", "create", "ANA@example.org", "--role", "editor", check=False)
    assert duplicate.returncode == 1 and "exists" in duplicate.stderr
    assert "disabled" in run(cli_env, "users", "disable", "ana@example.org").stdout
    assert "\tdisabled\t" in run(cli_env, "users", "list").stdout.splitlines()[0]
    run(cli_env, "users", "enable", "ana@example.org")
    assert "\tactive\t" in run(cli_env, "users", "list").stdout.splitlines()[0]
    again = run(cli_env, "users", "reset-link", "ana@example.org").stdout.strip()
    assert again.startswith("https://live.example/reset/") and again != link
    unknown = run(cli_env, "users", "disable", "nobody@example.org", check=False)
    assert unknown.returncode == 1 and "no account" in unknown.stderr
    bad = run(cli_env, "users", "create", "not-an-address", "--role", "editor", check=False)
    assert bad.returncode == 2 and "email" in bad.stderr


def test_members_add_list_remove(cli_env: dict[str, str]) -> None:
    run(cli_env, "users", "create", "cy@example.org", "--role", "editor")
    run(cli_env, "members", "add", "moscou", "cy@example.org", "--role", "contributor")
    assert run(cli_env, "members", "list", "moscou").stdout.split("\t")[1:4] == [
        "contributor",
        "active",
        "cy@example.org",
    ]
    run(cli_env, "members", "add", "moscou", "cy@example.org", "--role", "editor")
    assert "\teditor\t" in run(cli_env, "members", "list", "moscou").stdout
    run(cli_env, "members", "remove", "moscou", "cy@example.org")
    assert run(cli_env, "members", "list", "moscou").stdout == ""
    gone = run(cli_env, "members", "remove", "moscou", "cy@example.org", check=False)
    assert gone.returncode == 1 and "not a member" in gone.stderr
    nofeed = run(cli_env, "members", "add", "nope", "cy@example.org", "--role", "editor",
                 check=False)  # fmt: skip
    assert nofeed.returncode == 1 and "not found" in nofeed.stderr


def test_serve_creates_the_first_admin_account_once(livefeed_factory: Any) -> None:
    server: LivefeedServer = livefeed_factory(env={"LIVEFEED_ADMIN_TOKEN": ""})
    line = next(x for x in server.log_text().splitlines() if "admin sign-in:" in x)
    _label, _sign_in, url, email, _slash, password = line.split()[:6]
    assert url.endswith("/login") and email == "admin@localhost" and len(password) >= 20
    signed = httpx.post(
        server.url("/api/session"), json={"email": email, "password": password}, timeout=10
    )
    assert signed.status_code == 201, signed.text
    who = httpx.get(server.url("/api/whoami"), cookies=signed.cookies, timeout=10).json()
    assert who["role"] == "admin" and who["kind"] == "account"
    server.restart()
    second_start = server.log_text().rsplit("\n===== ", 1)[1]
    assert "admin sign-in:" not in second_start and password not in second_start
