"""Helpers for the embed and studio browser tests: a third-party site on another origin, and
admin calls against a real ``livefeed serve``."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.support.services import LivefeedServer


class HostSite:
    """A tiny static site on its own 127.0.0.1 port: another origin than livefeed's."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, path: str, html: str) -> str:
        self.pages[path] = html
        return self.origin + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Admin:
    """Admin API calls against a running server."""

    def __init__(self, server: LivefeedServer) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {server.admin_token}"}

    async def call(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        async with httpx.AsyncClient(base_url=self.server.base_url, timeout=10) as http:
            r = await http.request(method, path, json=json, headers=self.headers)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    async def feed(self, slug: str, title: str, **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = await self.call(
            "POST", "/api/feeds", {"slug": slug, "title": title, **extra}, status=201
        )
        return data

    async def post(self, slug: str, body: str, **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = await self.call(
            "POST", f"/api/feeds/{slug}/entries", {"body": body, **extra}, status=201
        )
        return data

    async def entries(self, slug: str) -> list[dict[str, Any]]:
        page = await self.call("GET", f"/api/feeds/{slug}/entries?limit=200")
        entries: list[dict[str, Any]] = page["entries"]
        return entries

    async def token(self, slug: str, name: str) -> str:
        data = await self.call("POST", f"/api/feeds/{slug}/tokens", {"name": name}, status=201)
        token: str = data["token"]
        return token
