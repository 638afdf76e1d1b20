"""Shared fixtures: the app on both databases (SQLite embedded default, real PostgreSQL),
and the test tiers.

Service fixtures (Redis, PostgreSQL, livefeed processes, Chromium) live in
``tests/support/fixtures.py``.

Tiers (markers registered in ``pyproject.toml``, applied here at collection):

- ``browser``: the test uses headless Chromium (``chromium_browser`` or ``page``).
- ``services``: the test uses a Redis / PostgreSQL / ``livefeed serve`` fixture, or lives
  outside ``tests/unit/`` — every such test runs real things (the app's lifespan on a real
  database, ``livefeed`` subprocesses, nginx, a test HTTP site).
- neither: ``tests/unit/``, pure code with fakes; ``make test-fast`` runs exactly this tier
  (``pytest -m "not services and not browser"``). A unit test that asks for a service or
  browser fixture is a collection error, so the fast tier cannot quietly start services.
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

pytest_plugins = ["tests.support.fixtures", "tests.media_support"]

UNIT_DIR = Path(__file__).resolve().parent / "unit"
SERVICE_FIXTURES = frozenset(
    {
        "redis_server",
        "redis_url",
        "fresh_redis_server",
        "postgres_server",
        "fresh_postgres_url",
        "livefeed_factory",
        "database_url",  # and so app, client, feed: the app's lifespan on SQLite and PostgreSQL
    }
)
BROWSER_FIXTURES = frozenset({"chromium_browser", "page"})

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
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    engine = make_engine(database_url)
    await upgrade(engine)
    await engine.dispose()
    application = create_app(
        Settings(
            database_url=database_url,
            admin_token=ADMIN_TOKEN,
            redis_url=None,
            media_dir=str(tmp_path / "media"),
        )
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier (see the module docstring)."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        in_unit_tier = item.path.is_relative_to(UNIT_DIR)
        if in_unit_tier and used & (SERVICE_FIXTURES | BROWSER_FIXTURES):
            raise pytest.UsageError(
                f"{item.nodeid} is in tests/unit/ but uses "
                f"{sorted(used & (SERVICE_FIXTURES | BROWSER_FIXTURES))}: "
                "service tests belong in tests/test_<area>_*.py"
            )
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if not in_unit_tier or used & SERVICE_FIXTURES:
            item.add_marker(pytest.mark.services)
