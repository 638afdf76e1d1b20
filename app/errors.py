"""Every failure becomes a 4xx JSON body ``{"detail": "…"}`` that names the problem.

``detail`` is English and stable. A request whose ``Accept-Language`` names one of the UI's
languages also gets ``message``, the same words in that language (:mod:`app.api_messages`),
and ``Vary: Accept-Language``.

Unexpected exceptions become a 500 with a generic message (and a logged traceback); the
test suite treats any 500 as a bug.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import api_messages
from app.store import Conflict, InvalidCursor, InvalidMedia, NotFound, StoreError

log = logging.getLogger(__name__)


def _describe(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    if loc and loc[0] in {"body", "query", "path", "header"}:
        loc = loc[1:]
    kind = error.get("type", "")
    if kind == "json_invalid":
        return f"malformed JSON: {error.get('ctx', {}).get('error', 'cannot parse')}"
    if kind == "missing" and not loc:
        return "request body is required (JSON)"
    where = ".".join(loc)
    message = str(error.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        message = "unknown field"
    return f"{where}: {message}" if where else message


def _with_message(
    request: Request, body: dict[str, Any], parts: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """``body`` plus ``message`` when the request asks for a language (and the header that
    says the answer depends on it); as it is otherwise."""
    language = api_messages.requested_language(request.headers.get("accept-language"))
    if language is None:
        return body, {}
    detail = str(body["detail"])
    message = (
        api_messages.localized_parts(parts, language)
        if parts
        else api_messages.localized(detail, language)
    )
    return {**body, "message": message}, {"Vary": "Accept-Language"}


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        malformed = any(e.get("type") == "json_invalid" for e in errors)
        parts = [_describe(e) for e in errors]
        body, headers = _with_message(
            request,
            {
                "detail": "; ".join(parts),
                "errors": [
                    {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                    for e in errors
                ],
            },
            parts,
        )
        return JSONResponse(body, status_code=400 if malformed else 422, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            # Starlette names only the methods of the first route matching the path; FastAPI
            # makes one route per method, so list every route's (GET, POST… and HEAD).
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(_allowed(request))}
        if isinstance(exc.detail, str):
            body, vary = _with_message(request, {"detail": exc.detail})
            if vary:
                return JSONResponse(
                    body, status_code=exc.status_code, headers={**(exc.headers or {}), **vary}
                )
        return await http_exception_handler(request, exc)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        status = 500
        if isinstance(exc, NotFound):
            status = 404
        elif isinstance(exc, Conflict):
            status = 409
        elif isinstance(exc, InvalidCursor):
            status = 400
        elif isinstance(exc, InvalidMedia):
            status = 422
        body, headers = _with_message(request, {"detail": str(exc)})
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Answered outside every middleware (Starlette's ServerErrorMiddleware): say it here.
        body, vary = _with_message(request, {"detail": "internal error"})
        return JSONResponse(body, status_code=500, headers={NOSNIFF[0]: NOSNIFF[1], **vary})


NOSNIFF = ("X-Content-Type-Options", "nosniff")
_NOSNIFF_RAW = (b"x-content-type-options", b"nosniff")


class NoSniff:
    """Add ``X-Content-Type-Options: nosniff`` to every HTTP response that lacks it, so a
    browser never reinterprets an API answer or an error body as another type."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == _NOSNIFF_RAW[0] for name, _value in headers):
                    headers.append(_NOSNIFF_RAW)
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)


def _allowed(request: Request) -> list[str]:
    methods: set[str] = set()
    path = request.scope["path"]
    for route in iter_route_contexts(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


class BodySizeLimit:
    """Reject request bodies over ``limit`` bytes with 413 — by Content-Length up front,
    and by counting while streaming for chunked bodies — before anything parses them."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        overrides: Sequence[tuple[re.Pattern[str], int, str]] = (),
    ) -> None:
        """``overrides``: (path pattern, limit, setting name) for routes allowed more (or
        less), e.g. media uploads."""
        self.app = app
        self.limit = limit
        self.overrides = overrides

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit, "LIVEFEED_MAX_REQUEST_BYTES"
        for pattern, path_limit, path_setting in self.overrides:
            if pattern.fullmatch(scope["path"]):
                limit, setting = path_limit, path_setting
                break
        too_large = f"request body too large: the limit is {limit} bytes ({setting})"
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    await _reject(send, 400, "invalid Content-Length", scope)
                    return
                if too_big:
                    await _reject(send, 413, too_large, scope)
                    return
        received = 0
        rejected = False

        async def limited_receive() -> Message:
            # Past the limit, answer 413 ourselves and tell the app the client left: the
            # app stops reading, and whatever it then tries to send is dropped.
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    rejected = True
                    await _reject(send, 413, too_large, scope)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


async def _reject(send: Send, status: int, detail: str, scope: Scope) -> None:
    answer, vary = _with_message(Request(scope), {"detail": detail})
    body = JSONResponse(answer).body
    headers = [
        (b"content-type", b"application/json"),
        _NOSNIFF_RAW,
        (b"content-length", b"%d" % len(body)),
    ]
    headers += [(name.lower().encode(), value.encode()) for name, value in vary.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
