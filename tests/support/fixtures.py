"""pytest plugin: real Redis, PostgreSQL, livefeed processes and a headless Chromium.

Loaded from ``tests/conftest.py`` with ``pytest_plugins = ["tests.support.fixtures"]``.

Fixtures (services start lazily, the first time a test asks, and stop at session end):

``redis_server`` (session)       :class:`RedisServer` — ``.url``, ``.stop()``, ``.kill()``,
                                 ``.start()`` on the same port, ``.flushall()``.
``redis_url`` (function)         URL of the session Redis, (re)started if a previous test
                                 stopped it, and flushed.
``fresh_redis_server`` (function) a private Redis for tests that kill/restart it.
``postgres_server`` (session)    :class:`PostgresServer` — ``.create_database()``, ``.psql()``.
``fresh_postgres_url`` (function) ``postgresql+asyncpg://postgres@127.0.0.1:PORT/NAME`` of a
                                 new empty database, dropped after the test.
``livefeed_factory`` (function)  ``make(env=None, *, workers=None, start=True, **kw)`` →
                                 started :class:`LivefeedServer`; all are stopped after the
                                 test, and their logs copied to test-artifacts/ on failure.
``chromium_browser`` (session)   Playwright async ``Browser`` (Debian's /usr/bin/chromium).
``page`` (function)              Playwright ``Page`` in a new context; on failure a
                                 screenshot, the HTML and the console log go to
                                 test-artifacts/<test>/.

Checked after every test, whether it asked or not (``servers_reported_nothing_wrong``,
autouse; see :mod:`tests.support.watch`): every live connection the test's readers saw the
server end has a close code the test allows (``@pytest.mark.close_codes(…)``; none by
default), and no ``livefeed serve`` log has a traceback or an ERROR/CRITICAL record
(``@pytest.mark.server_log_allows(r"regex", …)`` names the lines a test provokes on purpose).

A missing program makes the test fail (never skip) with a message naming ``make services``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import pytest
import pytest_asyncio

from tests.support import watch
from tests.support.services import (
    LivefeedServer,
    PostgresServer,
    RedisServer,
    ServiceUnavailable,
    unread_livefeed_logs,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = os.environ.get("LIVEFEED_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_ADMIN_TOKEN = "test-admin-token"

_S = TypeVar("_S", RedisServer, PostgresServer)
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


# ---------------------------------------------------------------------------------------
# Knowing whether the test failed (for artifacts)
# ---------------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _test_failed(request: pytest.FixtureRequest) -> bool:
    reports = request.node.stash.get(_REPORTS, {})
    return any(r.failed for r in reports.values())


def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """``test-artifacts/<sanitised test id>/`` under the rootdir, created on demand."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")[:150]
    path = Path(request.config.rootpath) / "test-artifacts" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _unavailable(exc: ServiceUnavailable) -> NoReturn:
    pytest.fail(str(exc), pytrace=False)


# ---------------------------------------------------------------------------------------
# Close codes and server logs, checked after every test
# ---------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "close_codes(*codes): close codes (tests.support.watch.ABRUPT for none) the test's "
        "live readers may see the server end a connection with; any other fails the test",
    )
    config.addinivalue_line(
        "markers",
        "server_log_allows(*patterns): regexes of server-log problem lines (traceback, "
        "ERROR) the test provokes on purpose",
    )


def _marker_args(item: pytest.Item, name: str) -> list[Any]:
    return [arg for marker in item.iter_markers(name) for arg in marker.args]


def _problems_in_logs(allowed: list[re.Pattern[str]]) -> list[str]:
    problems: list[str] = []
    for server, lines in unread_livefeed_logs():
        for number, line in enumerate(lines):
            if watch.PROBLEM_LINE.search(line) and not any(p.search(line) for p in allowed):
                context = "\n    ".join(lines[number : number + 12])
                problems.append(f"livefeed on port {server.port}: {context}")
                break  # the first one, with what follows it (the traceback), is enough
    return problems


@pytest.fixture(autouse=True)
def servers_reported_nothing_wrong(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if a reader saw a close code it does not allow, or a server logged a
    traceback or an error it did not provoke on purpose (see :mod:`tests.support.watch`)."""
    unread_livefeed_logs()  # what earlier tests' servers wrote is theirs
    watch.reset()
    yield
    watch.run_teardowns()
    allowed_codes = set(_marker_args(request.node, "close_codes"))
    allowed_lines = [re.compile(p) for p in _marker_args(request.node, "server_log_allows")]
    problems = [
        f"{c.who}: the server ended a connection to {c.url} with close code {c.code}, "
        f"not one of {sorted(allowed_codes)} (@pytest.mark.close_codes)"
        for c in watch.closes_seen()
        if c.code not in allowed_codes
    ]
    problems += _problems_in_logs(allowed_lines)
    if problems and _test_failed(request):
        # Already red: clients left running met the servers' shutdown. Show, don't pile on.
        request.node.add_report_section("teardown", "servers", "\n".join(problems))
    elif problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def server_logs_clean_at_exit() -> Iterator[None]:
    """Servers stopped after the last test (session- and module-scoped ones) are read too."""
    yield
    problems = _problems_in_logs([])
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# ---------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------


def _started(make: Callable[[], _S]) -> Iterator[_S]:
    """Create, start, yield and finally close a service (fail clearly if it is missing)."""
    try:
        server = make()
    except ServiceUnavailable as exc:
        _unavailable(exc)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis for the session, on 127.0.0.1:<free port>, no persistence."""
    yield from _started(RedisServer)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session Redis, running and empty."""
    redis_server.start()  # a previous test may have stopped or killed it
    redis_server.flushall()
    return redis_server.url


@pytest.fixture
def fresh_redis_server() -> Iterator[RedisServer]:
    """A Redis of this test's own, free to be killed and restarted."""
    yield from _started(RedisServer)


# ---------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the session (trust auth, fsync off, 127.0.0.1 only)."""
    yield from _started(PostgresServer)


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL (asyncpg) of a new, empty database; dropped after the test."""
    postgres_server.start()  # a previous test may have stopped it
    url = postgres_server.create_database()
    yield url
    name = url.rsplit("/", 1)[1]
    with contextlib.suppress(Exception):
        postgres_server.drop_database(name)


# ---------------------------------------------------------------------------------------
# livefeed
# ---------------------------------------------------------------------------------------


@pytest.fixture
def livefeed_factory(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., LivefeedServer]]:
    """Start ``livefeed serve`` processes; all are stopped when the test ends.

    ``make(env=None, *, workers=None, start=True, **kwargs)``: ``env`` holds the
    ``LIVEFEED_*`` settings (``LIVEFEED_ADMIN_TOKEN`` defaults to ``"test-admin-token"``,
    available as ``server.admin_token``); other keyword arguments go to
    :class:`LivefeedServer` (``port=``, ``executable=``, ``args=``, ``startup_timeout=``).
    """
    servers: list[LivefeedServer] = []

    def make(
        env: dict[str, str] | None = None,
        *,
        workers: int | None = None,
        start: bool = True,
        **kwargs: Any,
    ) -> LivefeedServer:
        full_env = {"LIVEFEED_ADMIN_TOKEN": DEFAULT_ADMIN_TOKEN, **(env or {})}
        try:
            server = LivefeedServer(full_env, workers=workers, **kwargs)
        except ServiceUnavailable as exc:
            _unavailable(exc)
        servers.append(server)
        if start:
            server.start()
        return server

    yield make

    for server in servers:
        with contextlib.suppress(Exception):
            server.terminate()
    if _test_failed(request):
        target = artifacts_dir(request)
        for i, server in enumerate(servers):
            with contextlib.suppress(OSError):
                shutil.copy(server.log_path, target / f"livefeed-{i}-port{server.port}.log")
    for server in servers:
        server.remove_files()  # the log stays readable for servers_reported_nothing_wrong


# ---------------------------------------------------------------------------------------
# Chromium (Playwright, async)
# ---------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium_browser() -> AsyncIterator[Browser]:
    """Headless Debian Chromium driven by Playwright (no downloaded browser)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed ({CHROMIUM}); run `make services` "
            "(as root: bash scripts/install-services.sh)",
            pytrace=False,
        )
    from playwright.async_api import async_playwright

    pw = await async_playwright().start()
    try:
        try:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
            )
        except Exception as exc:
            pytest.fail(f"could not launch {CHROMIUM}: {exc}", pytrace=False)
        try:
            yield browser
        finally:
            await browser.close()
    finally:
        await pw.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def page(chromium_browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A fresh browser context and page; screenshot + HTML + console log kept on failure."""
    context = await chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    pg = await context.new_page()
    messages: list[str] = []
    pg.on("console", lambda m: messages.append(f"[{m.type}] {m.text}"))
    pg.on("pageerror", lambda e: messages.append(f"[pageerror] {e}"))
    try:
        yield pg
    finally:
        if _test_failed(request) and not pg.is_closed():
            target = artifacts_dir(request)
            with contextlib.suppress(Exception):
                await pg.screenshot(path=str(target / "page.png"), full_page=True)
            with contextlib.suppress(Exception):
                (target / "page.html").write_text(await pg.content())
            with contextlib.suppress(Exception):
                (target / "console.log").write_text(f"url: {pg.url}\n" + "\n".join(messages) + "\n")
        await context.close()


def unique_name(prefix: str = "t") -> str:
    """A short unique slug-like name (feeds, tokens...) for tests sharing a server."""
    return f"{prefix}-{secrets.token_hex(4)}"
