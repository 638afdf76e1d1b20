"""Structured logs: ``LIVEFEED_LOG_FORMAT=json`` gives one JSON object per line with the
request id (``X-Request-ID`` in and out), and no credential ever reaches the log."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

import httpx

from app.logging import JsonFormatter, configure, redact
from tests.support.services import LivefeedServer


def json_lines(server: LivefeedServer) -> list[dict[str, Any]]:
    """The server's log as JSON objects. Skipped: the harness's own start marker and the
    CLI's start-up banner (plain text on stdout, before logging is configured)."""
    records = []
    for line in server.log_text().splitlines():
        if not line.strip() or line.startswith(("=====", "livefeed serving on", "  ")):
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    return records


async def test_json_logs_with_request_ids_and_no_tokens(
    livefeed_factory: Callable[..., LivefeedServer],
) -> None:
    admin_token = "admin-" + secrets.token_hex(16)
    server = livefeed_factory({"LIVEFEED_LOG_FORMAT": "json", "LIVEFEED_ADMIN_TOKEN": admin_token})
    admin = {"Authorization": f"Bearer {admin_token}"}
    slug = f"log-{secrets.token_hex(4)}"
    wrong = "lf_" + secrets.token_urlsafe(32)
    garbage = "not-a-token-" + secrets.token_hex(8)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        response = await http.post(
            "/api/feeds",
            json={"slug": slug, "title": "Logs"},
            headers={**admin, "X-Request-ID": "req-create-feed"},
        )
        assert response.status_code == 201
        assert response.headers["x-request-id"] == "req-create-feed"
        reporter = await http.post(f"/api/feeds/{slug}/tokens", json={"name": "r"}, headers=admin)
        assert reporter.status_code == 201
        reporter_token = reporter.json()["token"]
        posted = await http.post(
            f"/api/feeds/{slug}/entries",
            json={"body": "hello"},
            headers={"Authorization": f"Bearer {reporter_token}"},
        )
        assert posted.status_code == 201
        generated = posted.headers["x-request-id"]
        assert len(generated) >= 16  # made up by the server when the client sent none
        for bad in (wrong, garbage):
            refused = await http.post(
                f"/api/feeds/{slug}/entries",
                json={"body": "x"},
                headers={"Authorization": f"Bearer {bad}", "X-Request-ID": "req-refused"},
            )
            assert refused.status_code == 401
        # Tokens in a query string (where they do not belong) do not reach the log either.
        await http.get(f"/api/feeds/{slug}", params={"token": wrong, "access_token": garbage})
        # An invalid incoming id is replaced, not echoed.
        odd = await http.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
        assert odd.headers["x-request-id"] != "bad id\twith spaces"
    server.terminate()  # flush everything, including the shutdown lines
    text = server.log_text()
    for secret in (admin_token, reporter_token, wrong, garbage):
        assert secret not in text, "a token reached the log"
    assert reporter_token.startswith("lf_")

    records = json_lines(server)
    assert records, "no log lines"
    for record in records:
        assert {"ts", "level", "logger", "msg"} <= set(record), record
    access = [r for r in records if r["logger"] == "livefeed.access"]
    by_id = {r.get("request_id"): r for r in access}
    created = by_id["req-create-feed"]
    assert created["route"] == "/api/feeds" and created["status"] == 201
    assert created["method"] == "POST" and created["duration_ms"] >= 0
    assert by_id[generated]["route"] == "/api/feeds/{slug}/entries"
    assert by_id["req-refused"]["status"] == 401
    assert not any("token=" in json.dumps(r) for r in records)
    # Logs written while handling a request carry its id; uvicorn's own lines are JSON too.
    assert any(r["logger"].startswith("uvicorn") for r in records)


def test_redact() -> None:
    token = "lf_" + "A" * 43
    assert token not in redact(f"auth failed for {token}")
    assert "s3cr3t-value" not in redact("Authorization: Bearer s3cr3t-value")
    assert "hunter22" not in redact("postgresql+asyncpg://livefeed:hunter22@db:5432/livefeed")
    assert "postgresql+asyncpg://livefeed:" in redact("postgresql+asyncpg://livefeed:pw1234@db/x")
    assert "abcdef123" not in redact("GET /x?token=abcdef123&a=1")
    assert redact("ordinary message about 42 tokens") == "ordinary message about 42 tokens"


def test_exceptions_are_redacted_in_json() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("livefeed.test.redaction")
    configure("json", "info", ["configured-admin-secret"])
    root_handler = next(h for h in logging.getLogger().handlers if h.get_name() == "livefeed")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    for f in root_handler.filters:
        handler.addFilter(f)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("bad header: Bearer configured-admin-secret")
        except ValueError:
            logger.exception("failed with %s", "configured-admin-secret")
    finally:
        logger.removeHandler(handler)
        configure("text", "info")
    line = stream.getvalue().strip()
    record = json.loads(line)
    assert "configured-admin-secret" not in line
    assert record["msg"] == "failed with [redacted]"
    assert "ValueError" in record["exc"]
