"""Every page hands its live client the close-code table as JSON (``#livefeed-config``)."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import httpx
import pytest

from app.live.close_codes import client_table


class _ConfigBlocks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("id") == "livefeed-config":
            assert found.get("type") == "application/json"
            self._inside = True
            self.blocks.append("")

    def handle_endtag(self, tag: str) -> None:
        self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.blocks[-1] += data


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/feeds/moscou", 200),
        ("/embed/moscou", 200),
        ("/studio", 200),
        ("/feeds/no-such-feed", 404),
    ],
)
async def test_page_carries_the_close_code_table(
    client: httpx.AsyncClient, feed: str, path: str, status: int
) -> None:
    response = await client.get(path)
    assert response.status_code == status, response.text
    parser = _ConfigBlocks()
    parser.feed(response.text)
    assert len(parser.blocks) == 1, parser.blocks
    assert json.loads(parser.blocks[0]) == {"close_codes": client_table()}
