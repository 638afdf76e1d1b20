"""The first page of a long feed still shows its pinned entry and its key events."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx

from tests.conftest import ADMIN


class Highlights(HTMLParser):
    """What a reader page shows on top: the pinned section's entries and the key-event
    summary's links, plus the id of every entry article on the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pinned_ids: list[int] = []
        self.pinned_text = ""
        self.key_event_links: list[str] = []
        self.article_ids: list[int] = []
        self._open: list[tuple[str, str]] = []  # (tag, its lf- class of interest)

    @classmethod
    def of(cls, html: str) -> Highlights:
        parser = cls()
        parser.feed(html)
        parser.close()
        return parser

    def _within(self, css_class: str) -> bool:
        return any(c == css_class for _tag, c in self._open)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "template" or self._within("template"):
            self._open.append((tag, "template"))  # the live-entry skeleton: not content
            return
        if tag == "article" and "lf-entry" in classes:
            self.article_ids.append(int(a["id"].removeprefix("entry-")))
            if self._within("lf-pinned"):
                self.pinned_ids.append(self.article_ids[-1])
        if tag == "a" and self._within("lf-keyevents"):
            self.key_event_links.append(a["href"])
        if tag in {"section", "nav"}:
            mark = next((c for c in classes if c in {"lf-pinned", "lf-keyevents"}), "")
            self._open.append((tag, mark))

    def handle_endtag(self, tag: str) -> None:
        if self._open and (tag in {"section", "nav"} or self._open[-1][1] == "template"):
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._within("lf-pinned"):
            self.pinned_text += data


async def test_old_pinned_entry_and_key_events_reach_the_first_page(
    client: httpx.AsyncClient, feed: str
) -> None:
    url = f"/api/feeds/{feed}/entries"
    pinned = (
        await client.post(url, json={"body": "Le programme", "pinned": True}, headers=ADMIN)
    ).json()
    key = (
        await client.post(url, json={"body": "Ouverture", "key_event": True}, headers=ADMIN)
    ).json()
    for n in range(40):
        assert (
            await client.post(url, json={"body": f"entrée {n}"}, headers=ADMIN)
        ).status_code == 201

    page = Highlights.of((await client.get(f"/feeds/{feed}")).text)
    # Exactly the pinned entry sits in the pinned section, with its text.
    assert page.pinned_ids == [pinned["id"]]
    assert "Le programme" in page.pinned_text
    # The key event is 40 entries down, off the first page, yet linked from the summary:
    # the summary holds exactly one link, to the page around it, at its anchor.
    assert page.key_event_links == [f"/feeds/{feed}?around={key['id']}#entry-{key['id']}"]
    assert key["id"] not in page.article_ids, "the key event itself is off the first page"
    # The pinned entry appears once, on top, not again in its day.
    assert page.article_ids.count(pinned["id"]) == 1


async def test_watched_page_follows_every_change_without_rereading(
    client: httpx.AsyncClient, feed: str
) -> None:
    """After the first view the page's rev comes from the hub: each change must still show."""
    url = f"/api/feeds/{feed}/entries"
    first = await client.get(f"/feeds/{feed}")
    etag = first.headers["ETag"]
    assert (await client.get(f"/feeds/{feed}", headers={"If-None-Match": etag})).status_code == 304

    created = (await client.post(url, json={"body": "Nouvelle entrée"}, headers=ADMIN)).json()
    page = await client.get(f"/feeds/{feed}", headers={"If-None-Match": etag})
    assert page.status_code == 200 and "Nouvelle entrée" in page.text
    assert page.headers["ETag"] != etag

    await client.patch(f"{url}/{created['id']}", json={"body": "Entrée corrigée"}, headers=ADMIN)
    assert "Entrée corrigée" in (await client.get(f"/feeds/{feed}")).text

    await client.patch(f"/api/feeds/{feed}", json={"title": "Titre changé"}, headers=ADMIN)
    assert "Titre changé" in (await client.get(f"/feeds/{feed}")).text

    await client.delete(f"{url}/{created['id']}", headers=ADMIN)
    assert "Entrée corrigée" not in (await client.get(f"/feeds/{feed}")).text


async def test_cached_page_answers_exactly_like_the_rendered_one(
    client: httpx.AsyncClient, feed: str
) -> None:
    await client.post(f"/api/feeds/{feed}/entries", json={"body": "Une"}, headers=ADMIN)
    rendered = await client.get(f"/feeds/{feed}")  # renders, caches, starts watching
    cached = await client.get(f"/feeds/{feed}")  # answered by page_cache.CachedPages
    assert cached.content == rendered.content
    # Same headers, bar the request id: cache hits write no log line to correlate.
    rendered_headers = {k: v for k, v in rendered.headers.items() if k != "x-request-id"}
    assert dict(cached.headers) == rendered_headers
    head = await client.head(f"/feeds/{feed}")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(rendered.content))
    etag = rendered.headers["ETag"]
    for header in (etag, f'"other", {etag}', "*"):
        assert (
            await client.get(f"/feeds/{feed}", headers={"If-None-Match": header})
        ).status_code == 304
    stale = await client.get(f"/feeds/{feed}", headers={"If-None-Match": 'W/"stale"'})
    assert stale.status_code == 200 and stale.content == rendered.content
    # Query strings (older pages, other limits) always go through the app.
    older = await client.get(f"/feeds/{feed}?limit=5")
    assert older.status_code == 200 and older.headers["ETag"] != etag
