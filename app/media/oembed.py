"""Link cards: resolve a pasted URL once, at write time, through oEmbed.

Contract of :meth:`OEmbedResolver.resolve`:

- the provider comes from :data:`PROVIDERS` (YouTube, Vimeo, X, Bluesky, TikTok, Instagram…)
  or, for any other site (Mastodon instances included), from oEmbed discovery: the page's
  ``<link rel="alternate" type="application/json+oembed">``;
- every fetch (page, oEmbed JSON, thumbnail) has a timeout and a byte cap, follows no
  redirect blindly (each hop is checked again) and refuses hosts that resolve to private,
  loopback, link-local or otherwise non-public addresses — unless the host is listed in
  ``LIVEFEED_OEMBED_ALLOW_PRIVATE_HOSTS`` (the tests' local provider) — so a reporter cannot
  make the server probe its own network;
- it never raises for a provider's failure: an unreachable or unhelpful provider yields a
  non-playable card (a plain link);
- results are cached per URL for :data:`CACHE_SECONDS` (bounded).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

from app.config import Settings

log = logging.getLogger(__name__)

CACHE_SECONDS = 3600.0
CACHE_SIZE = 256
MAX_REDIRECTS = 3
USER_AGENT = "livefeed-oembed/1 (+link cards)"

#: (URL pattern, oEmbed endpoint) of well-known providers; others go through discovery.
PROVIDERS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"https?://(www\.|m\.)?(youtube\.com/(watch|shorts|live)|youtu\.be/)"),
        "https://www.youtube.com/oembed",
    ),
    (re.compile(r"https?://(www\.|player\.)?vimeo\.com/"), "https://vimeo.com/api/oembed.json"),
    (
        re.compile(r"https?://(www\.|mobile\.)?(twitter|x)\.com/[^/]+/status/"),
        "https://publish.twitter.com/oembed",
    ),
    (re.compile(r"https?://bsky\.app/profile/[^/]+/post/"), "https://embed.bsky.app/oembed"),
    (re.compile(r"https?://(www\.)?tiktok\.com/"), "https://www.tiktok.com/oembed"),
    (
        re.compile(r"https?://(www\.)?instagram\.com/(p|reel|tv)/"),
        "https://graph.facebook.com/v18.0/instagram_oembed",
    ),
]


class Refused(Exception):
    """A URL the resolver will not fetch (scheme, private address, size, status)."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a card stores: the card data (JSON) and the thumbnail bytes to re-host."""

    card: dict[str, Any]
    thumbnail: bytes | None


class _OEmbedLink(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.href is not None or tag != "link":
            return
        found = {k.lower(): (v or "") for k, v in attrs}
        if (
            "alternate" in found.get("rel", "").lower().split()
            and found.get("type", "").lower() == "application/json+oembed"
        ):
            self.href = found.get("href") or None


class _IframeSrc(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.other_tags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            self.srcs.append(dict(attrs).get("src") or "")
        else:
            self.other_tags += 1


def _text(value: Any, limit: int = 300) -> str | None:
    return value.strip()[:limit] or None if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= 10_000 else None


class OEmbedResolver:
    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.oembed_timeout_seconds
        self.max_bytes = settings.oembed_max_bytes
        self.private_hosts = {
            h.strip().lower() for h in settings.oembed_allow_private_hosts.split(",") if h.strip()
        }
        self._cache: OrderedDict[str, tuple[float, Resolved]] = OrderedDict()

    # -- fetching ---------------------------------------------------------------------------

    async def check_url(self, url: str) -> None:
        """Raise :class:`Refused` unless ``url`` is http(s) on a public address (or an
        allowed private host)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refused(f"not an http(s) URL: {url[:100]}")
        host = parts.hostname.lower()
        if host in self.private_hosts:
            return
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, parts.port or (443 if parts.scheme == "https" else 80)
            )
        except OSError as exc:
            raise Refused(f"{host}: {exc}") from None
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global:
                raise Refused(f"{host} resolves to a non-public address")

    async def fetch(self, client: httpx.AsyncClient, url: str) -> tuple[str, bytes, str]:
        """GET ``url`` (checked, each redirect too), at most ``max_bytes``: (final URL,
        body, content type)."""
        for _hop in range(MAX_REDIRECTS + 1):
            await self.check_url(url)
            async with client.stream("GET", url) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise Refused(f"{urlsplit(url).hostname} answered {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise Refused(f"{urlsplit(url).hostname}: response over the size cap")
                return url, bytes(body), response.headers.get("content-type", "")
        raise Refused("too many redirects")

    # -- resolving --------------------------------------------------------------------------

    async def resolve(self, url: str) -> Resolved:
        """The card for ``url`` (see the module docstring); never raises for the provider."""
        now = time.monotonic()
        cached = self._cache.get(url)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            self._cache.move_to_end(url)
            return cached[1]
        try:
            resolved = await asyncio.wait_for(self._resolve(url), self.timeout * 3)
        except (Refused, httpx.HTTPError, TimeoutError, ValueError) as exc:
            log.info("link card for %s is a plain link: %s", url, exc)
            resolved = Resolved({"url": url, "playable": False}, None)
        self._cache[url] = (now, resolved)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return resolved

    async def _resolve(self, url: str) -> Resolved:
        async with httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        ) as client:
            endpoint = self._endpoint(url)
            if endpoint is None:
                final, page, kind = await self.fetch(client, url)
                if "html" not in kind:
                    raise Refused("the link is not a web page")
                finder = _OEmbedLink()
                finder.feed(page.decode("utf-8", "replace"))
                if finder.href is None:
                    raise Refused("the page names no oEmbed endpoint")
                oembed_url = urljoin(final, finder.href)
            else:
                oembed_url = f"{endpoint}?{urlencode({'url': url, 'format': 'json'})}"
            _final, body, _kind = await self.fetch(client, oembed_url)
            data = json.loads(body)
            if not isinstance(data, dict):
                raise Refused("the oEmbed answer is not an object")
            card = self._card(url, data)
            thumbnail = None
            thumb_url = data.get("thumbnail_url")
            if isinstance(thumb_url, str) and thumb_url:
                try:
                    _f, thumbnail, _k = await self.fetch(client, urljoin(oembed_url, thumb_url))
                except (Refused, httpx.HTTPError) as exc:
                    log.info("thumbnail of %s skipped: %s", url, exc)
            return Resolved(card, thumbnail)

    @staticmethod
    def _endpoint(url: str) -> str | None:
        for pattern, endpoint in PROVIDERS:
            if pattern.match(url):
                return endpoint
        return None

    def _card(self, url: str, data: dict[str, Any]) -> dict[str, Any]:
        card: dict[str, Any] = {
            "url": url,
            "title": _text(data.get("title")),
            "author_name": _text(data.get("author_name"), 100),
            "provider_name": _text(data.get("provider_name"), 100),
            "playable": False,
        }
        html = data.get("html")
        if data.get("type") in ("video", "rich") and isinstance(html, str) and html.strip():
            card["playable"] = True
            width, height = _int(data.get("width")), _int(data.get("height"))
            if data.get("type") == "video" and width and height:
                card["width"], card["height"] = width, height
            iframe = _IframeSrc()
            iframe.feed(html)
            src = iframe.srcs[0] if len(iframe.srcs) == 1 else ""
            if src.startswith("//"):
                src = "https:" + src
            if src.startswith(("https://", "http://")) and iframe.other_tags == 0:
                card["player"] = {"iframe": src}
            else:
                card["player"] = {"html": html[: self.max_bytes]}
        return card
