"""Nothing unpublished ever reaches a reader, on any surface.

Real ``livefeed serve`` processes (one on SQLite; two on PostgreSQL + Redis). Strict
WebSocket and SSE readers are connected on every process throughout. The team then writes
drafts, submissions and scheduled posts — each carrying a unique secret word, some pinned
or key events, one with a photo and a video card attached to it alone — edits them (new
secrets), deletes, restores and re-deletes them, and unpublishes an edited published entry.
Then every reader surface is read and must not hold a single secret, the draft-only photo's
and card's URLs and keys, nor the unpublished entries' ids:

* the reader page: first page, every ``?before=`` / ``?around=`` / ``?after=`` page of every
  public entry (a draft's id as a cursor is a 404), with its key events, pinned slot and
  JSON-LD; the embed; ``/feeds/{slug}/entries/{id}`` (404 for every unpublished id);
* the API a reader uses: the feed, ``GET …/entries`` (every page), ``…/entries/{id}`` and
  ``changes?since=0``; Atom; oEmbed;
* the page cache: the drafts' writes take no rev, so the cached page keeps its ``ETag``
  (a revalidation is 304) — nothing of theirs can be in any cached render;
* every frame the strict readers received (which also hold exactly the API's timeline),
  and the catch-up of readers opened after a restart (``since=0``, from the change log and
  from the catch-up window).

Seen failing with one surface made to leak at a time: the update page (``app/pages.py``
reading ``Store.get_entry`` instead of ``get_public_entry``: 200 for a draft's id — found
by this test), the key events and pinned slot (``Store.highlights`` filtering on ``deleted``
only), and drafts logging their change (``_insert_entry`` public for every status: the
strict readers receive the draft).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.live_support import (
    ADMIN,
    Cluster,
    Factory,
    Reader,
    SseReader,
    WsReader,
    assert_converged,
    start_cluster,
)
from tests.media_support import OEmbedProvider, png_with_alpha
from tests.support.services import wait_until_async
from tests.support.watch import ABRUPT


class Leak(AssertionError):
    """A reader surface carried something unpublished."""


class _Scanning:
    """Mixin for the strict readers: every received event is scanned for secrets."""

    secrets: list[str]

    def _scan(self, event: dict[str, Any]) -> None:
        text = json.dumps(event, ensure_ascii=False)
        found = [s for s in self.secrets if s in text]
        if found:
            raise Leak(f"{getattr(self, 'name', '?')} received {found} in {text[:300]}")


class ScanningWsReader(_Scanning, WsReader):
    def _handle(self, checker: Any, event: dict[str, Any], nbytes: int) -> None:
        self._scan(event)
        super()._handle(checker, event, nbytes)


class ScanningSseReader(_Scanning, SseReader):
    def _handle(self, checker: Any, event: dict[str, Any], nbytes: int) -> None:
        self._scan(event)
        super()._handle(checker, event, nbytes)


@pytest.fixture(params=["memory", "redis"])
async def cluster(
    request: pytest.FixtureRequest,
    livefeed_factory: Factory,
    tmp_path: Path,
    oembed_provider: OEmbedProvider,
) -> AsyncIterator[Cluster]:
    extra: dict[str, Any] = {}
    if request.param == "redis":
        extra["postgres"] = request.getfixturevalue("postgres_server")
        extra["redis_url"] = request.getfixturevalue("redis_url")
    made = start_cluster(
        request.param,
        livefeed_factory,
        tmp_path=tmp_path,
        env={
            "LIVEFEED_MEDIA_DIR": str(tmp_path / "media"),
            # The test's own video site runs on 127.0.0.1 (the SSRF guard refuses it otherwise).
            "LIVEFEED_OEMBED_ALLOW_PRIVATE_HOSTS": "127.0.0.1",
        },
        **extra,
    )
    yield made
    await made.aclose()


def secret() -> str:
    return f"SECRET{secrets.token_hex(6)}"


class Team:
    """The feed's team writing through the API (admin token), any process."""

    def __init__(self, cluster: Cluster, slug: str) -> None:
        self.cluster = cluster
        self.slug = slug
        self.n = 0

    async def call(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        self.n += 1
        url = self.cluster.url(self.n, f"/api/feeds/{self.slug}{path}")
        response = await self.cluster.http.request(method, url, headers=ADMIN, **kw)
        assert response.status_code == status, (method, path, response.text)
        return response.json() if response.content else None

    async def create(self, **fields: Any) -> dict[str, Any]:
        entry: dict[str, Any] = await self.call("POST", "/entries", 201, json=fields)
        return entry


async def read_surfaces(cluster: Cluster, slug: str, public_ids: list[int]) -> dict[str, str]:
    """Every reader surface of the feed, by name → the text it answered (each process)."""
    out: dict[str, str] = {}
    paths = [
        f"/feeds/{slug}",
        f"/embed/{slug}",
        f"/feeds/{slug}/atom.xml",
        f"/api/feeds/{slug}",
        f"/api/feeds/{slug}/changes?since=0",
        "/",
    ]
    for entry_id in public_ids:
        paths += [
            f"/feeds/{slug}?before={entry_id}",
            f"/feeds/{slug}?around={entry_id}",
            f"/feeds/{slug}?after={entry_id}",
            f"/feeds/{slug}?around={entry_id}&limit=1",
            f"/feeds/{slug}/entries/{entry_id}",
            f"/api/feeds/{slug}/entries/{entry_id}",
        ]
    for i in range(len(cluster.servers)):
        oembed = f"/oembed?url={cluster.servers[i].base_url}/feeds/{slug}&format=json"
        for path in [*paths, oembed]:
            response = await cluster.http.get(cluster.url(i, path))
            assert response.status_code in (200, 404, 410), (path, response.status_code)
            out[f"{i}:{path}"] = response.text
        # Every page of the API's timeline.
        query, page_no = "limit=1", 0
        while True:
            body = await cluster.http.get(cluster.url(i, f"/api/feeds/{slug}/entries?{query}"))
            out[f"{i}:entries page {page_no}"] = body.text
            cursor = body.json()["next_before"]
            if cursor is None:
                break
            query, page_no = f"limit=1&before={cursor}", page_no + 1
    return out


def assert_nothing_of(texts: dict[str, str], hidden: list[str], hidden_ids: list[int]) -> None:
    leaks = [f"{where}: {word}" for where, text in texts.items() for word in hidden if word in text]
    # A never-published entry's id must not show up anywhere either: as an article, a
    # key-event or permalink link, an Atom id, or an entry in JSON.
    id_marks = [
        mark
        for i in hidden_ids
        for mark in (
            f'entry-{i}"',
            f"#entry-{i}<",
            f'data-id="{i}"',
            f'/entries/{i}"',
            f'"id":{i},"feed"',
        )
    ]
    leaks += [
        f"{where}: entry {mark}"
        for where, text in texts.items()
        for mark in id_marks
        if mark in text.replace(" ", "")
    ]
    if leaks:
        raise Leak("unpublished content reached readers:\n" + "\n".join(leaks[:20]))


async def assert_unpublished_pages_404(cluster: Cluster, slug: str, ids: list[int]) -> None:
    for i in range(len(cluster.servers)):
        for entry_id in ids:
            for path in (
                f"/feeds/{slug}/entries/{entry_id}",
                f"/api/feeds/{slug}/entries/{entry_id}",
                f"/feeds/{slug}?around={entry_id}",
                f"/feeds/{slug}?before={entry_id}",
            ):
                got = await cluster.http.get(cluster.url(i, path))
                assert got.status_code in (404, 400), (path, got.status_code)


# A restart drains WebSocket readers with 1012; SSE streams just end.
@pytest.mark.close_codes(1012, ABRUPT)
async def test_nothing_unpublished_reaches_any_reader_surface(
    cluster: Cluster, oembed_provider: OEmbedProvider
) -> None:
    slug = "noleak"
    await cluster.create_feed(slug, locale="fr-FR", timezone="Europe/Paris")
    team = Team(cluster, slug)
    hidden: list[str] = []
    readers: list[Reader] = []

    def reader(kind: type[Reader], name: str, urls: list[str], since: int = 0) -> Reader:
        made = kind(name, slug, urls, since=since)
        made.secrets = hidden  # type: ignore[attr-defined]  # the live list, grown below
        return made.start()

    try:
        public = await team.create(body="Ouverture du direct.", key_event=True)
        pinned = await team.create(body="Le programme de la journée.", pinned=True)
        for i in range(len(cluster.servers)):
            urls = cluster.ws_urls(i)
            readers.append(reader(ScanningWsReader, f"ws{i}", urls))
            readers.append(reader(ScanningSseReader, f"sse{i}", urls))
        await asyncio.gather(*(wait_until_async(r.connected.is_set, 10) for r in readers))
        rev_before = (await cluster.http.get(cluster.url(0, f"/api/feeds/{slug}"))).json()["rev"]

        # A photo attached to a draft only.
        upload = await cluster.http.post(
            cluster.url(0, f"/api/feeds/{slug}/media"),
            files={"file": ("p.png", png_with_alpha(), "image/png")},
            data={"alt": (alt := secret())},
            headers=ADMIN,
        )
        assert upload.status_code == 201, upload.text
        photo = upload.json()
        photo_key = photo["url"].rsplit("/", 2)[-2]
        hidden += [alt, photo_key]
        # …and a video card: its title, its unguessable frame key, its re-hosted thumbnail.
        video = secret()
        made = await cluster.http.post(
            cluster.url(0, f"/api/feeds/{slug}/cards"),
            json={"url": f"{oembed_provider.base}/watch/{video}"},
            headers=ADMIN,
        )
        assert made.status_code == 201, made.text
        card = made.json()
        assert card["card"]["title"] == f"Press conference {video}"
        card_key = card["card"]["frame_url"].rsplit("/", 1)[1]
        thumb_key = card["thumbnail"][0]["url"].rsplit("/", 2)[-2]
        hidden += [video, card_key, thumb_key]

        # Drafts, a submission, scheduled posts — pinned, key events — edited in between.
        words = [secret() for _ in range(12)]
        hidden += words
        draft = await team.create(
            body=f"Brouillon {words[0]}",
            status="draft",
            key_event=True,
            pinned=True,
            media=[photo["id"], card["id"]],
            author=words[1],
        )
        submitted = await team.create(body=f"À relire {words[2]}", status="submitted")
        later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        scheduled = await team.create(
            body=f"Programmé {words[3]}", status="scheduled", publish_at=later, key_event=True
        )
        binned = await team.create(body=f"À jeter {words[4]}", status="draft")
        await team.call("PATCH", f"/entries/{draft['id']}", json={"body": f"v2 {words[5]}"})
        await team.call("PATCH", f"/entries/{submitted['id']}", json={"pinned": True})
        await team.call("POST", f"/entries/{submitted['id']}/schedule", json={"publish_at": later})
        await team.call("POST", f"/entries/{submitted['id']}/submit")
        await team.call("PATCH", f"/entries/{scheduled['id']}", json={"body": f"v2 {words[6]}"})
        await team.call("DELETE", f"/entries/{binned['id']}", 204)
        await team.call("POST", f"/entries/{binned['id']}/restore")
        await team.call("PATCH", f"/entries/{binned['id']}", json={"body": f"v3 {words[7]}"})
        await team.call("DELETE", f"/entries/{binned['id']}", 204)
        # A published entry, edited, then unpublished and edited as a draft.
        withdrawn = await team.create(body="Chiffres provisoires.")
        await team.call("PATCH", f"/entries/{withdrawn['id']}", json={"body": "Chiffres revus."})
        await team.call("POST", f"/entries/{withdrawn['id']}/unpublish")
        await team.call(
            "PATCH", f"/entries/{withdrawn['id']}", json={"body": f"À corriger {words[8]}"}
        )
        # A public post in the middle, so the readers are known to be live past all this.
        marker = await team.create(body="Les bureaux de vote ferment.")

        # Never published (the withdrawn entry was public once: its earlier events stay).
        hidden_ids = [draft["id"], submitted["id"], scheduled["id"], binned["id"]]
        public_ids = [public["id"], pinned["id"], marker["id"]]
        state = await assert_converged(cluster, slug, readers, timeout=30)
        assert sorted(e["id"] for e in state.entries) == sorted(public_ids)

        # Every surface, on every process.
        texts = await read_surfaces(cluster, slug, public_ids)
        assert_nothing_of(texts, hidden, hidden_ids)
        await assert_unpublished_pages_404(cluster, slug, [*hidden_ids, withdrawn["id"]])
        # The drafts' writes took no rev of their own: only the public posts and the
        # withdrawn entry's create, edit and removal did.
        rev_now = (await cluster.http.get(cluster.url(0, f"/api/feeds/{slug}"))).json()["rev"]
        assert rev_now == rev_before + 4

        # After a restart: readers resuming from 0 get the whole log (store and window).
        await asyncio.to_thread(cluster.servers[0].restart)
        late = [
            reader(ScanningWsReader, f"late-ws{i}", cluster.ws_urls(i))
            for i in range(len(cluster.servers))
        ]
        late.append(reader(ScanningSseReader, "late-sse", cluster.ws_urls(0)))
        readers += late
        await assert_converged(cluster, slug, readers, timeout=30)
        texts = await read_surfaces(cluster, slug, public_ids)
        assert_nothing_of(texts, hidden, hidden_ids)

        # The page cache: drafts changed nothing, so an untouched feed keeps its ETag.
        other = "noleak-cache"
        await cluster.create_feed(other)
        cache_team = Team(cluster, other)
        await cache_team.create(body="public")
        first = await cluster.http.get(cluster.url(0, f"/feeds/{other}"))
        cache_words = [secret(), secret()]
        hidden += cache_words
        quiet = await cache_team.create(body=f"brouillon {cache_words[0]}", status="draft")
        await cache_team.call("PATCH", f"/entries/{quiet['id']}", json={"body": cache_words[1]})
        again = await cluster.http.get(
            cluster.url(0, f"/feeds/{other}"), headers={"If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304
        fresh = await cluster.http.get(cluster.url(0, f"/feeds/{other}"))
        assert fresh.headers["etag"] == first.headers["etag"]
        assert not any(word in fresh.text for word in cache_words)

        # Publishing the draft now shows its last version — and none of its earlier ones.
        await team.call("PATCH", f"/entries/{draft['id']}", json={"media": [], "author": "Ana"})
        hidden.remove(words[5])  # its last version: public from now on
        published = await team.call("POST", f"/entries/{draft['id']}/publish")
        assert published["body"] == f"v2 {words[5]}"
        public_ids.append(draft["id"])
        await assert_converged(cluster, slug, readers, timeout=30)
        texts = await read_surfaces(cluster, slug, public_ids)
        assert any(words[5] in text for text in texts.values())  # the scan can see things
        assert_nothing_of(texts, hidden, [submitted["id"], scheduled["id"], binned["id"]])
        for each in readers:
            each.raise_failure()
    finally:
        for each in readers:
            await each.stop()


def test_scan_catches_a_secret() -> None:
    """The scanner itself: a secret, an unpublished id, each is reported."""
    with pytest.raises(Leak):
        assert_nothing_of({"page": "…SECRETabc…"}, ["SECRETabc"], [])
    with pytest.raises(Leak):
        assert_nothing_of({"page": '<article id="entry-7">'}, [], [7])
    assert_nothing_of({"page": '<article id="entry-17">'}, ["SECRETabc"], [7])
