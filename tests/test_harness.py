"""Tests of the test harness itself: tests/support and scripts/install-services.sh."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.services import (
    LivefeedServer,
    PostgresServer,
    RedisServer,
    ServiceStartError,
    free_port,
    port_is_open,
    wait_until,
    wait_until_async,
)

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def test_free_port_is_bindable_on_loopback() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_wait_until_returns_value_and_times_out() -> None:
    start = time.monotonic()
    assert wait_until(lambda: time.monotonic() - start > 0.05 and "done", timeout=5) == "done"
    with pytest.raises(TimeoutError, match="never true"):
        wait_until(lambda: False, timeout=0.1, message="never true")


async def test_wait_until_async_accepts_sync_and_async_predicates() -> None:
    events: list[int] = []

    async def filled() -> bool:
        return len(events) >= 3

    async def producer() -> None:
        for i in range(3):
            await asyncio.sleep(0.01)
            events.append(i)

    task = asyncio.create_task(producer())
    assert await wait_until_async(filled, timeout=5)
    assert await wait_until_async(lambda: events, timeout=1) == [0, 1, 2]
    await task
    with pytest.raises(TimeoutError):
        await wait_until_async(lambda: False, timeout=0.1)


def test_install_services_is_a_quiet_no_op_when_everything_is_present() -> None:
    res = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install-services.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""


# ---------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------


async def _ping(url: str) -> bool:
    client = aioredis.from_url(url)
    try:
        return bool(await client.ping())
    except (aioredis.ConnectionError, OSError):
        return False
    finally:
        await client.aclose()


async def test_session_redis_url_is_flushed_and_loopback_only(
    redis_url: str, redis_server: RedisServer
) -> None:
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        assert await client.dbsize() == 0
        await client.set("k", "v")
        assert await client.get("k") == "v"
        assert (await client.config_get("bind"))["bind"] == "127.0.0.1"
        assert (await client.config_get("save"))["save"] == ""
    finally:
        await client.aclose()
    assert redis_url == f"redis://127.0.0.1:{redis_server.port}/0"


async def test_redis_restart_on_the_same_port_keeps_the_url_working(
    fresh_redis_server: RedisServer,
) -> None:
    server = fresh_redis_server
    url = server.url
    client = aioredis.from_url(url, decode_responses=True)
    try:
        await client.publish("ch", "before")  # opens a pooled connection
        await client.set("k", "v")

        server.kill()
        assert not server.is_running
        assert not await _ping(url)

        server.start()
        assert server.url == url

        # The same client object recovers once its stale connection is replaced.
        async def works() -> bool:
            try:
                return bool(await client.ping())
            except (aioredis.ConnectionError, OSError):
                return False

        assert await wait_until_async(works, timeout=10)
        assert await client.get("k") is None  # no persistence

        server.stop()  # graceful this time
        assert not port_is_open(server.port)
        server.start()
        assert await wait_until_async(works, timeout=10)
    finally:
        await client.aclose()


# ---------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------


async def test_fresh_postgres_url_is_an_empty_connectable_database(
    fresh_postgres_url: str, postgres_server: PostgresServer
) -> None:
    assert fresh_postgres_url.startswith(
        f"postgresql+asyncpg://postgres@127.0.0.1:{postgres_server.port}/"
    )

    engine = create_async_engine(fresh_postgres_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id serial PRIMARY KEY, body text)"))
            await conn.execute(text("INSERT INTO t (body) VALUES ('héllo')"))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT body FROM t"))).scalar_one() == "héllo"
            listen = (await conn.execute(text("SHOW listen_addresses"))).scalar_one()
            assert listen == "127.0.0.1"
            assert (await conn.execute(text("SHOW fsync"))).scalar_one() == "off"
    finally:
        await engine.dispose()

    # Plain asyncpg with the driver-less URL; a second database is a different, empty one.
    other = postgres_server.create_database()
    assert other != fresh_postgres_url
    conn = await asyncpg.connect(other.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        n = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE tablename = 't'")
        assert n == 0
    finally:
        await conn.close()
    postgres_server.drop_database(other.rsplit("/", 1)[1])


# ---------------------------------------------------------------------------------------
# LivefeedServer, against a stand-in executable (the real one is tested by the app tests)
# ---------------------------------------------------------------------------------------

FAKE_LIVEFEED = textwrap.dedent(
    """\
    import argparse, json, os, subprocess, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    p = argparse.ArgumentParser()
    p.add_argument("cmd")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args()
    mode = os.environ.get("FAKE_MODE", "ok")
    print("fake livefeed starting", a.cmd, a.host, a.port, a.workers, mode, flush=True)
    if mode == "crash":
        print("boom: cannot start", flush=True)
        sys.exit(3)
    # A "worker" child, like uvicorn --workers N: it must die with the server.
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open("worker.pid", "w") as f:
        f.write(str(worker.pid))

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/healthz" and mode != "never-healthy":
                body = json.dumps({"ok": True}).encode()
            elif self.path == "/env":
                body = json.dumps(
                    {k: v for k, v in os.environ.items() if k.startswith("LIVEFEED_")}
                ).encode()
            else:
                self.send_error(503 if self.path == "/healthz" else 404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer((a.host, a.port), H).serve_forever()
    """
)


@pytest.fixture
def fake_livefeed(tmp_path: Path) -> Path:
    exe = tmp_path / "livefeed"
    exe.write_text(f"#!{sys.executable}\n" + FAKE_LIVEFEED)
    exe.chmod(0o755)
    return exe


def _get_json(server: LivefeedServer, path: str) -> dict[str, str]:
    import urllib.request

    with urllib.request.urlopen(server.url(path), timeout=5) as resp:
        return dict(json.load(resp))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie waiting for init to reap it is gone too
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_livefeed_server_lifecycle_and_process_group(fake_livefeed: Path) -> None:
    server = LivefeedServer(
        {"LIVEFEED_REDIS_URL": "redis://127.0.0.1:1/0"}, workers=2, executable=fake_livefeed
    )
    try:
        server.start(timeout=20)
        assert server.is_running
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.ws_url == f"ws://127.0.0.1:{server.port}"
        assert f"starting serve 127.0.0.1 {server.port} 2 ok" in server.log_text()
        env = _get_json(server, "/env")
        assert env["LIVEFEED_REDIS_URL"] == "redis://127.0.0.1:1/0"
        assert env["LIVEFEED_PUBLIC_URL"] == server.base_url

        worker = int((server.cwd / "worker.pid").read_text())
        server.kill()  # SIGKILL to the group: the worker goes too
        assert not server.is_running
        wait_until(lambda: _gone(worker), timeout=5, message="worker killed with its group")
        assert not port_is_open(server.port)

        server.start(timeout=20)  # same port again
        assert server.healthy()
        port = server.port
        server.restart(timeout=20)
        assert server.port == port and server.healthy()
        assert server.log_text().count("fake livefeed starting") == 3

        worker = int((server.cwd / "worker.pid").read_text())
        server.terminate()
        wait_until(lambda: _gone(worker), timeout=5, message="worker stopped with its group")
    finally:
        server.close()


def test_livefeed_server_drops_inherited_settings(
    fake_livefeed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVEFEED_DATABASE_URL", "sqlite+aiosqlite:///./leaked.db")
    with LivefeedServer({"LIVEFEED_ADMIN_TOKEN": "s3cret"}, executable=fake_livefeed) as server:
        assert server.admin_token == "s3cret"
        env = _get_json(server, "/env")
        assert "LIVEFEED_DATABASE_URL" not in env
        assert env["LIVEFEED_ADMIN_TOKEN"] == "s3cret"


def test_livefeed_server_start_failure_shows_the_log(fake_livefeed: Path) -> None:
    server = LivefeedServer({"FAKE_MODE": "crash"}, executable=fake_livefeed)
    with pytest.raises(ServiceStartError, match=r"(?s)exited with code 3.*boom: cannot start"):
        server.start(timeout=20)
    server.close()

    server = LivefeedServer({"FAKE_MODE": "never-healthy"}, executable=fake_livefeed)
    with pytest.raises(ServiceStartError, match=r"(?s)did not become ready.*never-healthy"):
        server.start(timeout=0.8)
    assert not server.is_running
    server.close()


def test_livefeed_factory_stops_its_servers(
    livefeed_factory: Callable[..., LivefeedServer], fake_livefeed: Path
) -> None:
    a = livefeed_factory({"LIVEFEED_REDIS_URL": "redis://x"}, executable=fake_livefeed)
    b = livefeed_factory(executable=fake_livefeed, workers=3)
    assert a.port != b.port
    assert a.admin_token == b.admin_token == "test-admin-token"
    assert _get_json(b, "/env")["LIVEFEED_ADMIN_TOKEN"] == "test-admin-token"
    assert a.healthy() and b.healthy()


# ---------------------------------------------------------------------------------------
# Chromium
# ---------------------------------------------------------------------------------------


@pytest.fixture
def tiny_site() -> Iterator[str]:
    html = b"""<!doctype html><html><head><meta charset="utf-8"><title>tiny</title></head>
<body><h1 id="t">static</h1>
<script>document.getElementById("t").textContent = "rendered by JS";</script></body></html>"""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_browser_renders_a_data_url(page) -> None:  # type: ignore[no-untyped-def]
    await page.goto("data:text/html;charset=utf-8,<h1><span>Bonjour à tous</span></h1>")
    span = page.locator("h1 span")
    assert await span.text_content() == "Bonjour à tous"
    box = await span.bounding_box()
    assert box is not None and box["width"] > 50  # glyphs were drawn: fonts are present


async def test_browser_runs_javascript_on_a_local_page(page, tiny_site: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(tiny_site)
    await page.wait_for_function("document.getElementById('t').textContent === 'rendered by JS'")
    assert await page.title() == "tiny"
    png = await page.screenshot()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert [m.text for m in await page.console_messages()] == []
