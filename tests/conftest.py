"""Shared fixtures: the app on both databases (SQLite embedded default, real PostgreSQL).

Service fixtures (Redis, PostgreSQL, livefeed processes, Chromium) live in
``tests/support/fixtures.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from app.store.engine import make_engine
from app.store.migrate import upgrade

pytest_plugins = ["tests.support.fixtures"]

ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated-to-nothing, empty database of each kind; the same tests run on both."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/livefeed.db"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    engine = make_engine(database_url)
    await upgrade(engine)
    await engine.dispose()
    application = create_app(
        Settings(database_url=database_url, admin_token=ADMIN_TOKEN, redis_url=None)
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def feed(client: httpx.AsyncClient) -> str:
    response = await client.post(
        "/api/feeds",
        json={
            "slug": "moscou",
            "title": "Conférence",
            "locale": "fr-FR",
            "timezone": "Europe/Paris",
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    return "moscou"
