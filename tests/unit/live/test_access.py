"""``app/live/access.py``: which origins may open a feed's live stream."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from app.live.access import origin_allowed, own_origins
from tests.unit.builders import make_feed

OWN = {"https://live.example"}


@pytest.mark.parametrize("allowed", [[], ["*"], ["https://news.example", "*"]])
def test_a_feed_embeddable_anywhere_admits_every_origin(allowed: list[str]) -> None:
    feed = make_feed(allowed_origins=allowed)
    assert origin_allowed(feed, "https://anyone.example", OWN)


def test_a_restricted_feed_admits_its_origins_and_its_own_site_only() -> None:
    feed = make_feed(allowed_origins=["https://news.example"])
    assert origin_allowed(feed, "https://news.example", OWN)
    assert origin_allowed(feed, "https://live.example", OWN)
    assert not origin_allowed(feed, "https://evil.example", OWN)
    assert not origin_allowed(feed, "http://news.example", OWN)  # another scheme
    assert not origin_allowed(feed, "https://news.example:8443", OWN)  # another port
    assert not origin_allowed(feed, "null", OWN)  # sandboxed frames, file: pages


def test_clients_that_send_no_origin_are_not_browsers_and_pass() -> None:
    assert origin_allowed(make_feed(allowed_origins=["https://news.example"]), None, OWN)


def fake(public_url: str, host: str | None) -> tuple[Any, Any]:
    state = SimpleNamespace(settings=SimpleNamespace(public_url=public_url))
    conn = SimpleNamespace(headers={"host": host} if host else {})
    return state, conn


def test_own_origins_are_the_public_url_and_the_requested_host() -> None:
    state, conn = fake("https://live.example/prefix", "127.0.0.1:8000")
    assert own_origins(state, conn) == {
        "https://live.example",
        "http://127.0.0.1:8000",
        "https://127.0.0.1:8000",
    }
    state, conn = fake("https://live.example", None)
    assert own_origins(state, conn) == {"https://live.example"}
