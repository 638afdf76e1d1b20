"""Helpers for the operations tests: Debian's nginx running deploy/nginx.conf, readers that
reconnect with ``since`` like the browser client, a writer that retries safely, and a
Prometheus scrape parser.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.support.services import (
    ServiceStartError,
    find_livefeed_executable,
    free_port,
    port_is_open,
    wait_until,
)
from tests.support.watch import record_close

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
COMPOSE_FILE = ROOT / "docker-compose.yml"
NGINX_BINARY = "/usr/sbin/nginx"
TEMPLATE_VAR = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


# ---------------------------------------------------------------------------------------
# nginx
# ---------------------------------------------------------------------------------------


def template_variables(text: str) -> set[str]:
    """The ``${NAME}`` variables the nginx image's envsubst step fills in."""
    return set(TEMPLATE_VAR.findall(text))


def render_template(text: str, values: Mapping[str, str]) -> str:
    """What the nginx image's entrypoint does: substitute ``${NAME}`` for the given names
    only (nginx's own ``$vars`` pass through). Every template variable must be given."""
    missing = template_variables(text) - set(values)
    assert not missing, f"no value for template variables {sorted(missing)}"
    return TEMPLATE_VAR.sub(lambda m: values.get(m.group(1), m.group(0)), text)


class NginxProxy:
    """Debian's nginx in the foreground (not the system service) on 127.0.0.1:``port``,
    running deploy/nginx.conf verbatim inside a minimal main configuration, as the
    nginx:stable image includes it from its own nginx.conf."""

    def __init__(
        self, upstreams: list[str], port: int | None = None, media_root: Path | None = None
    ) -> None:
        if not Path(NGINX_BINARY).exists():
            raise ServiceStartError("nginx is not installed; run `make services`")
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="livefeed-nginx-"))
        self.dir.chmod(0o755)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.dir / "tmp" / sub).mkdir(parents=True)
            (self.dir / "tmp" / sub).chmod(0o777)
        self.media_root = media_root or self.dir / "media"
        values = {
            "LIVEFEED_PROXY_LISTEN": f"127.0.0.1:{self.port}",
            "LIVEFEED_MEDIA_ROOT": str(self.media_root),
        }
        values.update({f"LIVEFEED_UPSTREAM_{i}": u for i, u in enumerate(upstreams, 1)})
        (self.dir / "livefeed.conf").write_text(render_template(NGINX_CONF.read_text(), values))
        d = self.dir
        (d / "nginx.conf").write_text(
            f"""worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    include {d}/livefeed.conf;
}}
"""
        )
        self.error_log = d / "error.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _argv(self, *extra: str) -> list[str]:
        return [
            NGINX_BINARY,
            "-p", str(self.dir),
            "-c", str(self.dir / "nginx.conf"),
            "-e", str(self.error_log),
            "-g", f"daemon off; pid {self.dir}/nginx.pid;",
            *extra,
        ]  # fmt: skip

    def check(self) -> None:
        res = subprocess.run(self._argv("-t"), capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stderr

    def start(self) -> NginxProxy:
        self.check()
        self._proc = subprocess.Popen(
            self._argv(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=None
        )
        try:
            wait_until(lambda: port_is_open(self.port), timeout=10, message="nginx listening")
        except TimeoutError:
            self.stop()
            raise ServiceStartError(f"nginx did not start:\n{self.error_text()}") from None
        return self

    def error_text(self) -> str:
        try:
            return self.error_log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # graceful: finish, then exit
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> NginxProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------
# livefeed
# ---------------------------------------------------------------------------------------


def migrate(database_url: str) -> str:
    """``livefeed migrate``, as the compose file's one-shot service runs it."""
    exe = find_livefeed_executable()
    assert exe, "the livefeed console script is not installed"
    res = subprocess.run(
        [exe, "migrate"],
        env={"LIVEFEED_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


async def scrape(client: httpx.AsyncClient, base_url: str) -> dict[str, float]:
    """``GET /metrics``, flattened to ``{'name{label="v",…}': value}`` (labels sorted)."""
    response = await client.get(base_url + "/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


async def post_entry(
    client: httpx.AsyncClient, base_url: str, slug: str, body: str, token: str
) -> dict[str, Any]:
    """POST an entry, retrying with the same Idempotency-Key while a process is going away
    (connection refused/reset, 502/503): a retry never creates a second entry."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    deadline = time.monotonic() + 20
    while True:
        try:
            response = await client.post(
                f"{base_url}/api/feeds/{slug}/entries", json={"body": body}, headers=headers
            )
            if response.status_code == 201:
                return dict(response.json())
            if response.status_code not in (502, 503, 504):
                raise AssertionError(f"POST entry: {response.status_code} {response.text}")
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"could not post {body!r} within 20 s")
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------


@dataclass
class Reader:
    """What one client saw across its connections. It resumes with the last rev it got,
    and checks the per-connection guarantee: revs strictly increase, no duplicates."""

    name: str
    last_rev: int | None = None
    created: list[int] = field(default_factory=list)  # entry ids, in arrival order
    connects: int = 0
    close_codes: list[int | None] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    def _closed(self, url: str, code: int | None) -> None:
        """The server ended a connection (None: without a close code); the test's
        ``close_codes`` marker says which codes it allows (tests.support.watch)."""
        self.close_codes.append(code)
        record_close(self.name, url, code)

    def on_message(self, msg: dict[str, Any]) -> None:
        kind, rev = msg.get("type"), msg.get("rev")
        if kind == "hello":
            if self.last_rev is None:
                self.last_rev = rev
            self.connected.set()
            return
        if kind == "readers":
            return  # the live reader count: not a change, no rev
        if kind == "reset":
            self.problems.append(f"unexpected reset at rev {rev}")
            self.last_rev = rev
            return
        assert isinstance(rev, int)
        if self.last_rev is not None and rev <= self.last_rev:
            self.problems.append(f"rev {rev} after {self.last_rev}")
        self.last_rev = rev
        if kind == "entry" and msg.get("op") == "created":
            self.created.append(int(msg["entry"]["id"]))


class WsReader(Reader):
    async def run(self, url: str) -> None:
        while True:
            since = "" if self.last_rev is None else f"?since={self.last_rev}"
            self.connected.clear()
            try:
                async with connect(url + since, open_timeout=5, close_timeout=2) as ws:
                    self.connects += 1
                    async for raw in ws:
                        self.on_message(json.loads(raw))
                    self._closed(url, ws.close_code)
            except ConnectionClosed as exc:
                self._closed(url, exc.rcvd.code if exc.rcvd else None)
            except (OSError, InvalidHandshake, TimeoutError):
                pass  # nothing to connect to right now: retry, as the browser client does
            await asyncio.sleep(0.1)


class SseReader(Reader):
    async def run(self, url: str) -> None:
        timeout = httpx.Timeout(None, connect=5)
        async with httpx.AsyncClient(timeout=timeout) as client:
            while True:
                self.connected.clear()
                headers = {"Accept": "text/event-stream"}
                if self.last_rev is not None:
                    headers["Last-Event-ID"] = str(self.last_rev)
                with contextlib.suppress(httpx.TransportError):
                    async with client.stream("GET", url, headers=headers) as response:
                        if response.status_code == 200:
                            self.connects += 1
                            await self._read(response)
                            self._closed(url, None)
                await asyncio.sleep(0.1)

    async def _read(self, response: httpx.Response) -> None:
        data: list[str] = []
        async for line in response.aiter_lines():
            if line == "":
                if data:
                    self.on_message(json.loads("\n".join(data)))
                data = []
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
