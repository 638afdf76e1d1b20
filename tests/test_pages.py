"""Reader pages over HTTP against a real ``livefeed serve``, and the timeline helpers."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import httpx
import pytest

from app import timeline
from app.schemas import Entry, Feed
from tests.reader_support import ReaderSite, fixture_days, parse_page

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReaderSite]:
    s = ReaderSite(tmp_path_factory.mktemp("pages")).start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def imported(site: ReaderSite) -> str:
    """A fr-FR feed holding the French export."""
    slug = "moscou-" + secrets.token_hex(3)
    site.create_feed(slug, title="Conférence de Moscou")
    site.import_fixture(slug)
    return slug


def get(site: ReaderSite, path: str, **headers: str) -> httpx.Response:
    return httpx.get(site.url(path), headers=headers, timeout=10)


# -- helpers (no server) ---------------------------------------------------------------------


def _entry(eid: int, when: datetime, *, has_time: bool = True, **kw: Any) -> Entry:
    fields: dict[str, Any] = {
        "id": eid,
        "feed": "f",
        "rev": eid,
        "published_at": when,
        "updated_at": when,
        "author": None,
        "body": f"entry {eid}",
        "html": f"<p>entry {eid}</p>",
        "pinned": False,
        "key_event": False,
        "deleted": False,
        "has_time": has_time,
    }
    fields.update(kw)
    return Entry(**fields)


def _feed(**kw: Any) -> Feed:
    now = datetime(2021, 6, 24, 10, 0, tzinfo=UTC)
    fields: dict[str, Any] = {
        "slug": "f",
        "title": "Feed <&>",
        "description": "",
        "locale": "fr-FR",
        "timezone": "Europe/Paris",
        "status": "live",
        "rev": 3,
        "created_at": now,
        "updated_at": now,
        "started_at": now,
        "ended_at": None,
        "allowed_origins": [],
    }
    fields.update(kw)
    return Feed(**fields)


@pytest.mark.parametrize(
    ("day", "locale", "expected"),
    [
        (date(2021, 6, 24), "fr-FR", "Jeudi 24 juin"),
        (date(2021, 6, 23), "fr-FR", "Mercredi 23 juin"),
        (date(2025, 10, 12), "en-GB", "Sunday 12 October"),
        (date(2025, 10, 12), "en-US", "Sunday, October 12"),
        (date(2021, 6, 24), "de-DE", "Donnerstag, 24. Juni"),
    ],
)
def test_day_headings_follow_the_locale(day: date, locale: str, expected: str) -> None:
    assert timeline.day_heading(day, locale) == expected


def test_clock_times_are_local_and_localized() -> None:
    moment = datetime(2021, 6, 24, 12, 5, tzinfo=UTC)
    assert timeline.clock_time(moment, ZoneInfo("Europe/Paris"), "fr-FR") == "14:05"
    assert timeline.clock_time(moment, ZoneInfo("America/New_York"), "en-US") == "8:05\u202fAM"


def test_grouping_uses_the_feed_time_zone_and_never_invents_times() -> None:
    paris = ZoneInfo("Europe/Paris")
    late = datetime(2021, 6, 23, 22, 30, tzinfo=UTC)  # 00:30 on the 24th in Paris
    imported = datetime(2021, 6, 23, 10, 0, 5, tzinfo=UTC)
    groups = timeline.group_by_day(
        [_entry(2, late), _entry(1, imported, has_time=False)], paris, "fr-FR"
    )
    assert [g.heading for g in groups] == ["Jeudi 24 juin", "Mercredi 23 juin"]
    assert groups[0].entries[0].time_label == "00:30"
    assert groups[1].entries[0].time_label is None
    assert groups[1].entries[0].datetime_attr == "2021-06-23"


def test_pinned_entry_leads_the_first_page_only() -> None:
    t0 = datetime(2021, 6, 24, 8, 0, tzinfo=UTC)
    entries = [
        _entry(3, t0 + timedelta(hours=2)),
        _entry(2, t0 + timedelta(hours=1), pinned=True, key_event=True),
        _entry(1, t0),
    ]
    first = timeline.build_timeline(
        _feed(), entries, rev=3, next_before=None, before=None, limit=30
    )
    assert [v.entry.id for v in first.pinned] == [2]
    assert [v.entry.id for g in first.groups for v in g.entries] == [3, 1]
    assert [(k.id, k.when) for k in first.key_events] == [(2, "11:00")]
    config = json.loads(first.config_json)
    assert config["live"] is True and config["rev"] == 3 and config["dayPattern"] == "EEEE d MMMM"
    older = timeline.build_timeline(_feed(), entries, rev=3, next_before=None, before=9, limit=30)
    assert older.pinned == [] and not json.loads(older.config_json)["live"]
    assert [v.entry.id for g in older.groups for v in g.entries] == [3, 2, 1]


def test_script_json_cannot_close_its_script_element() -> None:
    text = timeline.script_json({"x": "</script><!-- & >"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"x": "</script><!-- & >"}


def test_json_ld_and_atom_of_an_ended_feed() -> None:
    ended = datetime(2021, 6, 24, 18, 0, tzinfo=UTC)
    feed = _feed(status="ended", ended_at=ended)
    e = _entry(7, ended - timedelta(hours=1), author="Anna", html="<p>a &amp; <b>b</b></p>")
    ld = timeline.json_ld(feed, [e], "https://news.example")
    assert ld["@type"] == "LiveBlogPosting"
    assert ld["coverageEndTime"] == "2021-06-24T18:00:00+00:00"
    update = ld["liveBlogUpdate"][0]
    assert update["url"] == "https://news.example/feeds/f/entries/7"
    assert update["articleBody"] == "a & b" and update["author"]["name"] == "Anna"
    root = ET.fromstring(timeline.atom_feed(feed, [e], "https://news.example"))
    assert root.findtext(f"{ATOM}title") == "Feed <&>"
    item = root.find(f"{ATOM}entry")
    assert item is not None
    # The id stays what it always was (feed readers key on it); the link is the update's page.
    assert item.findtext(f"{ATOM}id") == "https://news.example/feeds/f#entry-7"
    link = item.find(f"{ATOM}link[@rel='alternate']")
    assert link is not None and link.get("href") == "https://news.example/feeds/f/entries/7"
    assert item.findtext(f"{ATOM}content") == "<p>a &amp; <b>b</b></p>"


# -- pages from a real server ----------------------------------------------------------------


def test_imported_export_reads_back_as_written(site: ReaderSite, imported: str) -> None:
    r = get(site, f"/feeds/{imported}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = parse_page(r.text)
    days = fixture_days()
    assert page.headings == [d.heading for d in days]
    assert [e["body"] for e in page.entries] == [text for d in days for text in d.entries]
    # No clock times were in the export, so none are shown; <time> carries the day only.
    assert all(e["time"] == "" for e in page.entries)
    assert all(len(e["datetime"]) == 10 for e in page.entries)
    assert '<html lang="fr-FR" dir="ltr">' in r.text
    assert 'property="og:title" content="Conférence de Moscou"' in r.text


def test_older_pages_through_plain_links(site: ReaderSite, imported: str) -> None:
    seen: list[str] = []
    path: str | None = f"/feeds/{imported}?limit=7"
    pages = 0
    headings: list[str] = []
    while path:
        r = get(site, path)
        assert r.status_code == 200
        page = parse_page(r.text)
        seen += [e["body"] for e in page.entries]
        headings += [h for h in page.headings if not headings or headings[-1] != h]
        path = f"/feeds/{imported}{page.older}".replace("&amp;", "&") if page.older else None
        pages += 1
    days = fixture_days()
    assert pages == -(-len(seen) // 7) and pages > 1
    assert seen == [text for d in days for text in d.entries]
    assert headings == [d.heading for d in days]


def test_etag_and_conditional_requests(site: ReaderSite) -> None:
    slug = "etag-" + secrets.token_hex(3)
    site.create_feed(slug, locale="en-GB", tz="UTC")
    first = get(site, f"/feeds/{slug}")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = get(site, f"/feeds/{slug}", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert get(site, f"/feeds/{slug}?limit=5").headers["etag"] != etag
    httpx.post(
        site.url(f"/api/feeds/{slug}/entries"),
        json={"body": "news"},
        headers={"Authorization": f"Bearer {site.server.env['LIVEFEED_ADMIN_TOKEN']}"},
    ).raise_for_status()
    changed = get(site, f"/feeds/{slug}", **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "news" in changed.text


def test_json_ld_and_atom_parse(site: ReaderSite, imported: str) -> None:
    page = parse_page(get(site, f"/feeds/{imported}").text)
    (ld_text,) = page.scripts["application/ld+json"]
    ld = json.loads(ld_text)
    assert ld["@type"] == "LiveBlogPosting" and ld["headline"] == "Conférence de Moscou"
    assert ld["coverageStartTime"] and "coverageEndTime" not in ld
    updates = ld["liveBlogUpdate"]
    assert [u["articleBody"] for u in updates] == [e["body"] for e in page.entries]
    urls = [u["url"] for u in updates]
    assert urls == [f"{site.url()}feeds/{imported}/entries/{e['id']}" for e in page.entries]
    r = get(site, f"/feeds/{imported}/atom.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(r.content)
    assert root.tag == f"{ATOM}feed"
    items = root.findall(f"{ATOM}entry")
    assert len(items) == len(page.entries)
    assert items[0].findtext(f"{ATOM}title") == updates[0]["headline"]


def test_index_lists_live_feeds_first(site: ReaderSite) -> None:
    live, ended = "zz-live-" + secrets.token_hex(2), "aa-ended-" + secrets.token_hex(2)
    site.create_feed(ended, title="Finished story")
    site.create_feed(live, title="Ongoing story")
    httpx.patch(
        site.url(f"/api/feeds/{ended}"),
        json={"status": "ended"},
        headers={"Authorization": f"Bearer {site.server.env['LIVEFEED_ADMIN_TOKEN']}"},
    ).raise_for_status()
    html = get(site, "/").text
    assert html.index(f'href="/feeds/{live}"') < html.index(f'href="/feeds/{ended}"')
    ended_page = get(site, f"/feeds/{ended}").text
    assert "Ce direct est terminé." in ended_page
    ld = json.loads(parse_page(ended_page).scripts["application/ld+json"][0])
    assert "coverageEndTime" in ld
    assert json.loads(parse_page(ended_page).scripts["application/json"][0])["live"] is False


def test_unknown_feed_and_cursor_are_404_pages(site: ReaderSite, imported: str) -> None:
    r = get(site, "/feeds/no-such-feed")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert get(site, "/feeds/no-such-feed/atom.xml").status_code == 404
    assert get(site, f"/feeds/{imported}?before=999999").status_code == 404


def test_static_assets_are_versioned_and_cacheable(site: ReaderSite, imported: str) -> None:
    html = get(site, f"/feeds/{imported}").text
    start = html.index('<script type="module" src="/static/v/')
    src = html[start + len('<script type="module" src="') : html.index('"></script>', start)]
    assert src.endswith("/livefeed.js")
    r = get(site, src)
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    assert "data-livefeed-timeline" in r.text
    # The module's relative imports resolve under the same version: immutable too.
    version_dir = src.rsplit("/", 1)[0]
    imported = get(site, f"{version_dir}/lib/live-client.js")
    assert imported.status_code == 200 and "immutable" in imported.headers["cache-control"]
    assert "export class LiveClient" in imported.text
    # A page from before a deploy names another version: served, but revalidated soon.
    stale = get(site, "/static/v/000000000000/lib/live-client.js")
    assert stale.status_code == 200 and "immutable" not in stale.headers["cache-control"]
    assert get(site, "/static/v/000000000000/no-such.js").status_code == 404
    assert Path(__file__).resolve().parent.parent.joinpath("web/static/livefeed.css").exists()
