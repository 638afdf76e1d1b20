"""The fixtures ``web/tests`` (``node --test``) read are what the server functions answer now.

If this fails, a server rule (headline, heading, time, plural, key-event list) changed: update
its twin in ``web/static/lib/`` too, then regenerate with ``python -m tests.js_fixtures``.
"""

from __future__ import annotations

import json

import pytest

from tests.js_fixtures import FIXTURES, all_fixtures, dump


@pytest.mark.parametrize("name", sorted(all_fixtures()))
def test_committed_fixture_is_what_the_server_answers(name: str) -> None:
    committed = (FIXTURES / name).read_text(encoding="utf-8")
    expected = dump(all_fixtures()[name])
    assert json.loads(committed) == json.loads(expected), (
        f"tests/fixtures/js/{name} is stale: run `.venv/bin/python -m tests.js_fixtures`"
    )
