"""Helpers shared by the reader-page tests: one real ``livefeed serve`` with its own SQLite
file, the CLI run against the same database, admin API calls, and the French fixture."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx

from tests.support.paths import LIVEBLOG_FR as FIXTURE
from tests.support.services import LivefeedServer

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "reader-test-admin"

_FR_DAY = re.compile(r"^(Lundi|Mardi|Mercredi|Jeudi|Vendredi|Samedi|Dimanche) \d{1,2} \w+$")


@dataclass(frozen=True)
class Day:
    heading: str
    entries: list[str]


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def fixture_days() -> list[Day]:
    """The export as a newsroom wrote it: headings and entries, newest first."""
    days: list[Day] = []
    for raw in FIXTURE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if _FR_DAY.match(line):
            days.append(Day(line, []))
        else:
            assert days, "the fixture starts with a day heading"
            days[-1].entries.append(squash(line))
    return days


class ReaderSite:
    """A livefeed server (SQLite file + in-process broker) and the CLI on the same data."""

    def __init__(self, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.db = tmp / "reader.db"
        self.server = LivefeedServer(
            {
                "LIVEFEED_DATABASE_URL": f"sqlite+aiosqlite:///{self.db}",
                "LIVEFEED_ADMIN_TOKEN": ADMIN_TOKEN,
                **(env or {}),
            }
        )

    def snapshot(self, target: Path) -> None:
        """A consistent copy of the database as it is now (SQLite's online backup)."""
        # Closed at once (`with sqlite3.connect()` only commits): a connection left to the
        # garbage collector would checkpoint its WAL into the file after a restore.
        with closing(sqlite3.connect(self.db)) as source, closing(sqlite3.connect(target)) as copy:
            source.backup(copy)

    def restore(self, snapshot: Path) -> None:
        """Stop the server, put ``snapshot`` back as its database (as an operator restoring a
        backup would), and start it again on the same port."""
        self.server.terminate()
        for leftover in (self.db.with_name(self.db.name + s) for s in ("-wal", "-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(snapshot, self.db)
        self.server.start()

    def start(self) -> ReaderSite:
        self.server.start()
        return self

    def close(self) -> None:
        self.server.close()

    def url(self, path: str = "/") -> str:
        return self.server.url(path)

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [self.server.executable, *args],
            env=self.server.env,
            cwd=self.server.cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"livefeed {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def create_feed(
        self, slug: str, *, title: str = "Direct", locale: str = "fr-FR", tz: str = "Europe/Paris"
    ) -> None:
        self.cli("feeds", "create", slug, "--title", title, "--locale", locale, "--timezone", tz)

    def import_fixture(self, slug: str) -> None:
        self.cli("import", slug, str(FIXTURE), "--year", "2021")

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.server.base_url,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )

    async def post(self, slug: str, body: str, **fields: Any) -> dict[str, Any]:
        async with self.client() as c:
            r = await c.post(f"/api/feeds/{slug}/entries", json={"body": body, **fields})
        assert r.status_code == 201, r.text
        entry: dict[str, Any] = r.json()
        return entry

    async def patch(self, slug: str, entry_id: int, **fields: Any) -> dict[str, Any]:
        async with self.client() as c:
            r = await c.patch(f"/api/feeds/{slug}/entries/{entry_id}", json=fields)
        assert r.status_code == 200, r.text
        entry: dict[str, Any] = r.json()
        return entry

    async def delete(self, slug: str, entry_id: int) -> None:
        async with self.client() as c:
            r = await c.delete(f"/api/feeds/{slug}/entries/{entry_id}")
        assert r.status_code == 204, r.text

    async def patch_feed(self, slug: str, **fields: Any) -> dict[str, Any]:
        async with self.client() as c:
            r = await c.patch(f"/api/feeds/{slug}", json=fields)
        assert r.status_code == 200, r.text
        feed: dict[str, Any] = r.json()
        return feed


class TimelineParser(HTMLParser):
    """Day headings, entries (id, time text, body text) and links of a rendered page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[str] = []
        self.entries: list[dict[str, Any]] = []
        self.older: str | None = None
        self.scripts: dict[str, list[str]] = {}
        self._stack: list[tuple[str, str]] = []  # (tag, capture target)
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "template" or self._inside("template"):
            self._stack.append((tag, ""))  # the live-entry skeleton is not content
            return
        classes = a.get("class", "").split()
        target = ""
        if tag == "h2" and "lf-day-heading" in classes:
            target = "heading"
        elif tag == "article" and "lf-entry" in classes and a.get("id", "").startswith("entry-"):
            self.entries.append(
                {
                    "id": int(a["data-id"]),
                    "pinned": "is-pinned" in classes,
                    "key": "is-key" in classes,
                    "time": "",
                    "datetime": "",
                    "body": "",
                }
            )
        elif tag == "time" and self.entries and self._inside("article"):
            self.entries[-1]["datetime"] = a.get("datetime", "")
            target = "time"
        elif tag == "div" and "lf-body" in classes and self.entries:
            target = "body"
        elif tag == "a" and "lf-older" in classes:
            self.older = a.get("href")
        elif tag == "script" and a.get("type"):
            target = "script:" + a.get("type", "")
        if target:
            self._text = []
        self._stack.append((tag, target))

    def _inside(self, tag: str) -> bool:
        return any(t == tag for t, _ in self._stack)

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            open_tag, target = self._stack.pop()
            if target:
                text = "".join(self._text)
                if target == "heading":
                    self.headings.append(squash(text))
                elif target in ("time", "body"):
                    self.entries[-1][target] = squash(text)
                elif target.startswith("script:"):
                    self.scripts.setdefault(target[7:], []).append(text)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        self._text.append(data)


def parse_page(html: str) -> TimelineParser:
    parser = TimelineParser()
    parser.feed(html)
    parser.close()
    return parser
