"""Every page hands its live client the close-code table as JSON (``#livefeed-config``)."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import httpx
import pytest

from app import i18n
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
    ("path", "status", "language"),
    [
        ("/", 200, "en"),
        ("/feeds/moscou", 200, "fr"),
        ("/embed/moscou", 200, "fr"),
        ("/studio", 200, "en"),
        ("/feeds/no-such-feed", 404, "en"),
    ],
)
async def test_page_carries_the_close_code_table(
    client: httpx.AsyncClient, feed: str, path: str, status: int, language: str
) -> None:
    response = await client.get(path)
    assert response.status_code == status, response.text
    parser = _ConfigBlocks()
    parser.feed(response.text)
    assert len(parser.blocks) == 1, parser.blocks
    table = client_table()
    for policy in table.values():  # the messages a reader is shown are in the page's language
        if isinstance(policy["message"], str):
            policy["message"] = i18n.gettext(language, policy["message"])
    assert json.loads(parser.blocks[0]) == {"close_codes": table}
    if language == "fr":
        assert table["4404"]["message"] == "Ce direct n’existe pas."
