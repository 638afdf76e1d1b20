"""``app/templating.py``: pages render reporter and admin text escaped, and hand the browser
its configuration as data it cannot break out of."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from app import timeline
from app.templating import (
    asset_version,
    livefeed_config_json,
    not_found_page,
    static_url,
    templates,
)
from tests.unit.builders import make_entry, make_feed

EVIL = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'


def render_reader_page() -> str:
    feed = make_feed(title=EVIL, description=EVIL)
    entry = make_entry(
        1, datetime(2021, 6, 24, 7, tzinfo=UTC), author=EVIL, body="ok", html="<p>ok</p>"
    )
    tl = timeline.build_timeline(feed, [entry], rev=1, next_before=None, before=None, limit=30)
    url = timeline.feed_url("https://live.example", feed.slug)
    ld = timeline.script_json(timeline.json_ld(feed, [entry], "https://live.example"))
    return templates().get_template("feed.html").render(tl=tl, url=url, json_ld=ld)


def test_title_description_and_author_are_escaped_everywhere() -> None:
    html = render_reader_page()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(" in html


def test_every_inline_json_block_parses_and_stays_closed() -> None:
    html = render_reader_page()
    blocks = re.findall(r'<script type="application/(?:ld\+)?json"[^>]*>(.*?)</script>', html, re.S)
    assert len(blocks) >= 2  # JSON-LD and the timeline config (and the page config)
    texts = [text for block in blocks for text in strings_in(json.loads(block))]
    assert EVIL in texts  # the title survives as data, intact


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def test_the_live_client_config_carries_the_close_code_table() -> None:
    config = json.loads(livefeed_config_json())
    assert config["close_codes"], "every page hands its live client the close codes"


def test_asset_urls_are_versioned_by_content() -> None:
    version = asset_version()
    assert re.fullmatch(r"[0-9a-f]{12}", version)
    url = static_url("livefeed.css")
    assert url.startswith("/static/") and url.endswith("/livefeed.css")
    assert version in url


def test_the_not_found_page_is_a_404_naming_the_problem_escaped() -> None:
    response = not_found_page(f"No live blog called “{EVIL}”.")
    assert response.status_code == 404
    assert response.headers["cache-control"] == "no-cache"
    body = bytes(response.body).decode()
    assert "No live blog called" in body
    assert "<script>alert" not in body
