"""Per-update pages (``/feeds/{slug}/entries/{id}``) and deep links into the timeline
(``/feeds/{slug}?around={id}``, ``?after={id}``), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from xml.etree import ElementTree as ET

import httpx

from tests.conftest import ADMIN
from tests.media_support import jpeg_with_gps_and_orientation

ATOM = "{http://www.w3.org/2005/Atom}"
PUBLIC = "http://127.0.0.1:8000"  # Settings.public_url's default


class HeadParser(HTMLParser):
    """The social card and links of a page, as a crawler reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, list[str]] = {}
        self.links: dict[str, str] = {}
        self.title = ""
        self.ld: list[Any] = []
        self.anchors: list[tuple[str, str]] = []  # (class, href)
        self._in: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("property" in a or "name" in a):
            self.meta.setdefault(a.get("property") or a["name"], []).append(a["content"])
        elif tag == "link" and "rel" in a:
            self.links[a["rel"]] = a["href"]
        elif tag == "a" and "href" in a:
            self.anchors.append((a.get("class", ""), a["href"]))
        elif tag == "title" or (tag == "script" and a.get("type") == "application/ld+json"):
            self._in, self._text = tag, []

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._in == tag:
            text = "".join(self._text)
            if tag == "title":
                self.title = text
            else:
                self.ld.append(json.loads(text))
            self._in = None


def parse(html: str) -> HeadParser:
    parser = HeadParser()
    parser.feed(html)
    return parser


def one(card: HeadParser, name: str) -> str:
    (value,) = card.meta[name]
    return value


async def post(client: httpx.AsyncClient, feed: str, body: str, **fields: Any) -> dict[str, Any]:
    r = await client.post(
        f"/api/feeds/{feed}/entries", json={"body": body, **fields}, headers=ADMIN
    )
    assert r.status_code == 201, r.text
    entry: dict[str, Any] = r.json()
    return entry


def article_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<article class="lf-entry[^"]*" id="entry-(\d+)"', html)]


async def test_update_page_carries_its_own_social_card(
    client: httpx.AsyncClient, feed: str
) -> None:
    await post(client, feed, "Earlier news.")
    long_text = "Le ministre a pris la parole devant la presse. " * 8
    entry = await post(client, feed, f"**Annonce** : {long_text}", author="Anna")
    r = await client.get(f"/feeds/{feed}/entries/{entry['id']}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    card = parse(r.text)
    url = f"{PUBLIC}/feeds/{feed}/entries/{entry['id']}"
    assert card.links["canonical"] == url
    assert one(card, "og:url") == url
    assert one(card, "og:type") == "article"
    assert one(card, "og:title").startswith("Annonce : Le ministre")
    assert card.title == one(card, "og:title") + " — Conférence"
    excerpt = one(card, "og:description")
    assert excerpt.startswith("Annonce : Le ministre") and excerpt.endswith("…")
    assert len(excerpt) <= 201 and one(card, "twitter:description") == excerpt
    assert one(card, "twitter:card") == "summary" and "og:image" not in card.meta
    assert one(card, "og:locale") == "fr_FR"
    # JSON-LD: the feed's LiveBlogPosting holding exactly this update's BlogPosting.
    (ld,) = card.ld
    assert ld["@type"] == "LiveBlogPosting" and ld["url"] == f"{PUBLIC}/feeds/{feed}"
    (update,) = ld["liveBlogUpdate"]
    assert update["@type"] == "BlogPosting" and update["url"] == url
    assert update["author"] == {"@type": "Person", "name": "Anna"}
    # The way into the live timeline: a deep link at this update, and the latest updates.
    hrefs = dict(card.anchors)
    assert hrefs["lf-in-timeline"] == f"/feeds/{feed}?around={entry['id']}#entry-{entry['id']}"
    assert hrefs["lf-newer"] == f"/feeds/{feed}"
    assert article_ids(r.text) == [entry["id"]]


async def test_update_page_card_shows_its_image(client: httpx.AsyncClient, feed: str) -> None:
    upload = await client.post(
        f"/api/feeds/{feed}/media",
        files={"file": ("photo.jpg", jpeg_with_gps_and_orientation(), "image/jpeg")},
        data={"alt": "La salle"},
        headers=ADMIN,
    )
    assert upload.status_code == 201, upload.text
    item = upload.json()
    with_photo = await post(client, feed, "Photo de la salle.", media=[{"id": item["id"]}])
    await post(client, feed, "Newer, without a photo.")
    card = parse((await client.get(f"/feeds/{feed}/entries/{with_photo['id']}")).text)
    assert one(card, "og:image") == f"{PUBLIC}{item['url']}"
    assert one(card, "twitter:image") == one(card, "og:image")
    assert one(card, "og:image:alt") == "La salle"
    assert (one(card, "og:image:width"), one(card, "og:image:height")) == ("400", "800")
    assert one(card, "twitter:card") == "summary_large_image"
    assert one(card, "og:description") == "Photo de la salle."
    (ld,) = card.ld
    assert ld["liveBlogUpdate"][0]["image"] == [one(card, "og:image")]


async def test_deleted_unknown_and_malformed_updates(client: httpx.AsyncClient, feed: str) -> None:
    entry = await post(client, feed, "Soon gone.")
    path = f"/feeds/{feed}/entries/{entry['id']}"
    assert (await client.get(path)).status_code == 200
    assert (
        await client.delete(f"/api/feeds/{feed}/entries/{entry['id']}", headers=ADMIN)
    ).status_code == 204
    gone = await client.get(path)
    assert gone.status_code == 410 and gone.headers["content-type"].startswith("text/html")
    assert "Soon gone." not in gone.text
    assert ("lf-to-feed", f"/feeds/{feed}") in parse(gone.text).anchors
    for missing in ("999999", "0", "abc", "12x", "99999999999999999999", "%C2%B2"):
        r = await client.get(f"/feeds/{feed}/entries/{missing}")
        assert r.status_code == 404, missing
        assert r.headers["content-type"].startswith("text/html")
    assert (await client.get(f"/feeds/nope/entries/{entry['id']}")).status_code == 404
    # An update of another feed is not reachable under this one.
    other = await client.post("/api/feeds", json={"slug": "other", "title": "Other"}, headers=ADMIN)
    assert other.status_code == 201
    theirs = await post(client, "other", "Other feed's update.")
    assert (await client.get(f"/feeds/{feed}/entries/{theirs['id']}")).status_code == 404


async def test_update_page_is_cached_per_rev_and_follows_edits(
    client: httpx.AsyncClient, feed: str
) -> None:
    entry = await post(client, feed, "First wording.")
    path = f"/feeds/{feed}/entries/{entry['id']}"
    first = await client.get(path)
    etag = first.headers["etag"]
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    r = await client.patch(
        f"/api/feeds/{feed}/entries/{entry['id']}", json={"body": "Second wording."}, headers=ADMIN
    )
    assert r.status_code == 200
    edited = await client.get(path, headers={"If-None-Match": etag})
    assert edited.status_code == 200 and edited.headers["etag"] != etag
    assert "Second wording." in edited.text and "First wording." not in edited.text


async def make_timeline(client: httpx.AsyncClient, feed: str, count: int) -> list[int]:
    """``count`` updates a minute apart; their ids, newest first."""
    start = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    ids = []
    for n in range(count):
        when = (start + timedelta(minutes=n)).isoformat()
        ids.append((await post(client, feed, f"Update {n}.", published_at=when))["id"])
    return ids[::-1]


async def test_deep_link_opens_the_timeline_at_the_update_with_paging_both_ways(
    client: httpx.AsyncClient, feed: str
) -> None:
    newest_first = await make_timeline(client, feed, 25)
    target = newest_first[12]  # on page 3 at limit=5
    first = await client.get(f"/feeds/{feed}?limit=5")
    assert target not in article_ids(first.text)
    r = await client.get(f"/feeds/{feed}?around={target}&limit=5")
    assert r.status_code == 200
    assert article_ids(r.text) == newest_first[12:17]
    page = parse(r.text)
    hrefs = dict(page.anchors)
    assert hrefs["lf-newer-page"] == f"?after={target}&limit=5"
    assert hrefs["lf-older"] == f"?before={newest_first[16]}&limit=5"
    assert hrefs["lf-newer"] == "?"
    assert one(page, "robots") == "noindex, follow"
    config = json.loads(re.search(r'class="lf-config">(.*?)</script>', r.text).group(1))  # type: ignore[union-attr]
    assert config["live"] is False and config["firstPage"] is False
    # Up from there, page by page, to the newest update.
    seen, cursor = [], target
    while cursor is not None:
        up = await client.get(f"/feeds/{feed}?after={cursor}&limit=5")
        assert up.status_code == 200
        ids = article_ids(up.text)
        assert ids and seen[-5:] != ids
        seen = ids + seen
        link = dict(parse(up.text).anchors)
        assert link["lf-older"] == f"?before={ids[-1]}&limit=5"
        cursor = (
            int(link["lf-newer-page"].split("=")[1].split("&")[0])
            if "lf-newer-page" in link
            else None
        )
    assert seen == newest_first[:12]
    # The newest update's deep link has nothing above it.
    top = await client.get(f"/feeds/{feed}?around={newest_first[0]}&limit=5")
    assert article_ids(top.text) == newest_first[:5]
    assert "lf-newer-page" not in dict(parse(top.text).anchors)
    # Bad cursors are 404 pages, not errors; only one cursor at a time.
    assert (await client.get(f"/feeds/{feed}?around=999999")).status_code == 404
    assert (await client.get(f"/feeds/{feed}?after=999999")).status_code == 404
    both = await client.get(f"/feeds/{feed}?around={target}&before={target}")
    assert both.status_code == 404
    assert (await client.get(f"/feeds/{feed}?around=abc")).status_code == 422


async def test_every_permalink_points_to_the_update_page(
    client: httpx.AsyncClient, feed: str
) -> None:
    newest_first = await make_timeline(client, feed, 8)
    key = await post(
        client, feed, "Key moment.", key_event=True, published_at="2025-03-01T07:00:00+00:00"
    )
    for path in (f"/feeds/{feed}?limit=3", f"/embed/{feed}?limit=3"):
        html = (await client.get(path)).text
        permalinks = re.findall(r'class="lf-permalink" href="([^"]+)"', html)
        ids = article_ids(html)
        assert ids and permalinks[: len(ids)] == [f"/feeds/{feed}/entries/{i}" for i in ids]
        # The template for live entries carries no hard-coded link; the config says the base.
        config = json.loads(re.search(r'class="lf-config">(.*?)</script>', html).group(1))  # type: ignore[union-attr]
        assert config["entryPath"] == f"/feeds/{feed}/entries/"
        assert config["aroundPath"] == f"/feeds/{feed}?around="
    # A key event that is not on the page is linked through the deep link.
    first = (await client.get(f"/feeds/{feed}?limit=3")).text
    assert key["id"] not in article_ids(first)
    assert f'href="/feeds/{feed}?around={key["id"]}#entry-{key["id"]}"' in first
    atom = ET.fromstring((await client.get(f"/feeds/{feed}/atom.xml")).content)
    links = [
        e.find(f"{ATOM}link[@rel='alternate']").get("href")  # type: ignore[union-attr]
        for e in atom.findall(f"{ATOM}entry")
    ]
    assert links == [f"{PUBLIC}/feeds/{feed}/entries/{i}" for i in [*newest_first, key["id"]]]
