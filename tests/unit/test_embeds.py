"""``app/embeds.py``: which sites may frame a feed, and which URLs oEmbed accepts."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from app.embeds import _slug_from_url, frame_ancestors, snippet
from tests.unit.builders import make_feed

PUBLIC = "https://live.example"


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        ([], "frame-ancestors *"),
        (["*"], "frame-ancestors *"),
        (["https://news.example"], "frame-ancestors 'self' https://news.example"),
        (
            ["https://a.example", "http://b.example:8080"],
            "frame-ancestors 'self' https://a.example http://b.example:8080",
        ),
    ],
)
def test_frame_ancestors_follow_the_feed_allowed_origins(allowed: list[str], expected: str) -> None:
    assert frame_ancestors(make_feed(allowed_origins=allowed)) == expected


def test_the_snippet_points_at_the_feed_and_the_loader() -> None:
    assert snippet(PUBLIC + "/", "moscou") == (
        '<div data-livefeed="https://live.example/feeds/moscou"></div>'
        '<script async src="https://live.example/embed.js"></script>'
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://live.example/feeds/moscou",
        "https://LIVE.example/feeds/moscou/",
        "  https://live.example/embed/moscou  ",
    ],
)
def test_oembed_accepts_reader_and_embed_urls_of_this_site(url: str) -> None:
    assert _slug_from_url(url, PUBLIC) == "moscou"


def test_oembed_honours_a_public_url_with_a_path() -> None:
    assert _slug_from_url("https://x.example/live/feeds/a-b", "https://x.example/live") == "a-b"
    with pytest.raises(HTTPException) as refused:
        _slug_from_url("https://x.example/feeds/a-b", "https://x.example/live")
    assert refused.value.status_code == 400


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("https://evil.example/feeds/moscou", 400),
        ("http://live.example/feeds/moscou", 400),  # another scheme is another site
        ("https://live.example.evil/feeds/moscou", 400),
        ("https://live.example/", 404),
        ("https://live.example/feeds/Not_A_Slug", 404),
        ("https://live.example/feeds/moscou/atom.xml", 404),
        ("https://live.example/api/feeds/moscou", 404),
    ],
)
def test_oembed_refuses_other_sites_and_non_feed_pages(url: str, status: int) -> None:
    with pytest.raises(HTTPException) as refused:
        _slug_from_url(url, PUBLIC)
    assert refused.value.status_code == status
