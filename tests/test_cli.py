"""The ``livefeed`` command, run as a user runs it: a subprocess with LIVEFEED_* set."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.store.migrate import head_revision
from tests.support.paths import LIVEBLOG_FR as FIXTURE
from tests.support.services import LivefeedServer

LIVEFEED = str(Path(sys.executable).with_name("livefeed"))


def run(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEFEED_")}
    full_env.update(env)
    result = subprocess.run(
        [LIVEFEED, *args], env=full_env, capture_output=True, text=True, timeout=60
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def cli_env(database_url: str) -> dict[str, str]:
    env = {"LIVEFEED_DATABASE_URL": database_url}
    run(env, "migrate")
    return env


def fixture_paragraphs() -> tuple[list[str], list[str]]:
    headings, entries = [], []
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        (
            headings
            if len(line) < 40 and line.split()[0] in {"Jeudi", "Mercredi", "Mardi"}
            else entries
        ).append(line)
    return headings, entries


def entries_via_store(database_url: str, slug: str) -> list[dict[str, Any]]:
    import asyncio

    from app.store import Store
    from app.store.engine import make_engine

    async def read() -> list[dict[str, Any]]:
        store = Store(make_engine(database_url))
        try:
            page = await store.list_entries(slug, limit=200)
            return [entry.model_dump() for entry in page.entries]
        finally:
            await store.close()

    return asyncio.run(read())


def test_migrate_is_idempotent(database_url: str) -> None:
    env = {"LIVEFEED_DATABASE_URL": database_url}
    head = head_revision()
    first = run(env, "migrate")
    assert f"migrated from empty to {head}" in first.stdout
    second = run(env, "migrate")
    assert f"already at {head}" in second.stdout


def test_feeds_and_tokens(cli_env: dict[str, str]) -> None:
    created = run(
        cli_env,
        "feeds",
        "create",
        "moscou",
        "--title",
        "Conférence",
        "--locale",
        "fr-FR",
        "--timezone",
        "Europe/Paris",
    )
    assert "created feed 'moscou'" in created.stdout
    listing = run(cli_env, "feeds", "list")
    assert "moscou\tlive\trev 0\tConférence" in listing.stdout
    token = run(cli_env, "tokens", "create", "moscou", "--name", "ana").stdout.strip()
    assert token.startswith("lf_")
    duplicate = run(cli_env, "feeds", "create", "moscou", "--title", "x", check=False)
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr
    bad_slug = run(cli_env, "feeds", "create", "Not OK", "--title", "x", check=False)
    assert bad_slug.returncode == 2 and "invalid slug" in bad_slug.stderr
    bad_zone = run(
        cli_env, "feeds", "create", "ok", "--title", "x", "--timezone", "Nowhere/City", check=False
    )
    assert bad_zone.returncode == 2 and "time zone" in bad_zone.stderr
    unknown = run(cli_env, "tokens", "create", "nope", check=False)
    assert unknown.returncode != 0 and "'nope' not found" in unknown.stderr


def test_import_keeps_days_and_order_without_clock_times(
    cli_env: dict[str, str], database_url: str
) -> None:
    run(
        cli_env,
        "feeds",
        "create",
        "moscou",
        "--title",
        "Moscou",
        "--locale",
        "fr-FR",
        "--timezone",
        "Europe/Paris",
    )
    result = run(cli_env, "import", "moscou", str(FIXTURE))
    _headings, paragraphs = fixture_paragraphs()
    assert f"imported {len(paragraphs)} entries" in result.stdout

    entries = entries_via_store(database_url, "moscou")
    assert [e["body"] for e in entries] == paragraphs
    assert all(e["has_time"] is False for e in entries)
    days = [e["published_at"].date() for e in entries]
    # Without --year the year depends on today (tests/test_importer_dates.py pins it with
    # fixed dates); whatever today is, the export lands on Tuesday 22 to Thursday 24 June of
    # one year, not after today.
    year = days[0].year
    assert days[0] == date(year, 6, 24) and days[0].weekday() == 3
    assert days[0] <= date.today()
    assert days[-1] == date(year, 6, 22)
    assert days == sorted(days, reverse=True)
    assert sum(1 for d in days if d == date(year, 6, 23)) == 11

    again = run(cli_env, "import", "moscou", str(FIXTURE))
    assert (
        "imported 0 entries" in again.stdout
        and f"({len(paragraphs)} already there)" in again.stdout
    )
    assert len(entries_via_store(database_url, "moscou")) == len(paragraphs)


def test_import_errors_are_clear(cli_env: dict[str, str], tmp_path: Path) -> None:
    run(cli_env, "feeds", "create", "moscou", "--title", "Moscou", "--locale", "fr-FR")
    wrong_year = run(cli_env, "import", "moscou", str(FIXTURE), "--year", "2022", check=False)
    assert wrong_year.returncode == 2
    assert "line 1" in wrong_year.stderr and "--year" in wrong_year.stderr
    headless = tmp_path / "headless.txt"
    headless.write_text("Une entrée sans jour.\n", encoding="utf-8")
    no_heading = run(cli_env, "import", "moscou", str(headless), check=False)
    assert no_heading.returncode == 2 and "Jeudi 24 juin" in no_heading.stderr
    missing = run(cli_env, "import", "moscou", str(tmp_path / "missing.txt"), check=False)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    unknown = run(cli_env, "import", "nope", str(FIXTURE), check=False)
    assert unknown.returncode == 2 and "'nope' not found" in unknown.stderr


def test_import_reads_other_locales(
    cli_env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    export = tmp_path / "en.txt"
    export.write_text(
        "Sunday 12 October\nSecond, newer.\nFirst.\nSaturday 11 October\nThe day before.\n",
        encoding="utf-8",
    )
    run(
        cli_env,
        "feeds",
        "create",
        "cup",
        "--title",
        "Cup",
        "--locale",
        "en-GB",
        "--timezone",
        "Europe/London",
    )
    run(cli_env, "import", "cup", str(export), "--year", "2025")
    entries = entries_via_store(database_url, "cup")
    assert [e["body"] for e in entries] == ["Second, newer.", "First.", "The day before."]
    assert [e["published_at"].date() for e in entries] == [
        date(2025, 10, 12),
        date(2025, 10, 12),
        date(2025, 10, 11),
    ]


def test_invalid_setting_stops_with_one_clear_line(tmp_path: Path) -> None:
    result = run({"LIVEFEED_DATABASE_URL": "mysql://nope"}, "feeds", "list", check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "LIVEFEED_DATABASE_URL" in lines[0]


def test_serve_first_start_and_post(livefeed_factory: Any, tmp_path: Path) -> None:
    server: LivefeedServer = livefeed_factory(env={"LIVEFEED_ADMIN_TOKEN": ""})
    log = server.log_text()
    assert "/feeds/demo" in log and "/studio" in log
    token = next(line.split()[2] for line in log.splitlines() if "admin token:" in line)
    assert token.startswith("lf_")
    demo = httpx.get(f"{server.base_url}/api/feeds/demo/entries").json()
    assert len(demo["entries"]) >= 3

    posted = run({}, "post", "demo", "From the **CLI**", "--url", server.base_url, "--token", token)
    assert "posted entry" in posted.stdout
    newest = httpx.get(f"{server.base_url}/api/feeds/demo/entries?limit=1").json()["entries"][0]
    assert newest["html"] == "<p>From the <strong>CLI</strong></p>"
    refused = run(
        {}, "post", "demo", "x", "--url", server.base_url, "--token", "lf_wrong", check=False
    )
    assert refused.returncode == 2 and "401" in refused.stderr

    # Second start on the same database: no second admin token, no second demo feed.
    server.restart()
    second_start = server.log_text().rsplit("\n===== ", 1)[1]  # the harness's start marker
    admin_lines = [line.strip() for line in second_start.splitlines() if "admin token:" in line]
    assert admin_lines == [
        "admin token:      printed on first start; `livefeed tokens admin` makes a new one"
    ], second_start
    assert not re.search(r"\blf_[A-Za-z0-9_-]{16,}", second_start), "a token was printed again"
    with sqlite3.connect(server.cwd / "livefeed.db") as db:
        (admins,) = db.execute("SELECT count(*) FROM tokens WHERE is_admin").fetchone()
    assert admins == 1, "a second admin token was generated"
    feeds = httpx.get(f"{server.base_url}/api/feeds").json()
    assert [f["slug"] for f in feeds] == ["demo"]


def test_json_logs_keep_the_generated_admin_token_out(livefeed_factory: Any) -> None:
    import json
    import stat

    server: LivefeedServer = livefeed_factory(
        env={"LIVEFEED_ADMIN_TOKEN": "", "LIVEFEED_LOG_FORMAT": "json"}
    )
    lines = [
        line
        for line in server.log_text().splitlines()
        if line.strip() and not line.startswith("=====")  # the harness's start markers
    ]
    assert lines, server.log_text()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    starting = next(r for r in records if r.get("msg") == "starting")
    token_file = Path(starting["admin_token_file"])
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert token.startswith("lf_") and token not in server.log_text()
    created = httpx.post(
        f"{server.base_url}/api/feeds",
        json={"slug": "via-file", "title": "t"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201
