"""Process logging: text for people, or one JSON object per line for log pipelines.

``LIVEFEED_LOG_FORMAT=json`` gives lines like::

    {"ts":"2024-06-24T09:30:01.123Z","level":"info","logger":"livefeed.access",
     "msg":"GET /api/feeds/{slug} 200","request_id":"9f2c…","method":"GET",
     "path":"/api/feeds/demo","route":"/api/feeds/{slug}","status":200,"duration_ms":3.1}

Request ids: :class:`RequestContextMiddleware` takes ``X-Request-ID`` from the request
(the proxy sets one; a client may too) or makes one up, returns it in the response header
of the same name and attaches it to every log record written while the request runs.

Secrets never reach the output: the access log records no headers and no query string,
and every record — message, arguments, exception text — is passed through
:func:`redact`, which blanks bearer credentials, livefeed tokens (``lf_…``), passwords in
URLs and the configured admin token.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import route_template

REQUEST_ID_HEADER = "x-request-id"
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "livefeed_request_id", default=None
)
# A request id we accept from outside: short, and safe to echo in a header and a log line.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_log = logging.getLogger("livefeed.access")

# Paths probed every few seconds by orchestrators and Prometheus: logged at DEBUG only.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

_REDACTED = "[redacted]"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization: Bearer <credential> (or Basic), wherever it is quoted.
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1\2" + _REDACTED),
    # token=…, "token": "…", password=… in query strings, JSON bodies or reprs.
    (
        re.compile(r"(?i)\b(token|password|secret)(\"?\s*[=:]\s*\"?)[^\s\"'&,;]{6,}"),
        r"\1\2" + _REDACTED,
    ),
    # livefeed API tokens (app.tokens.TOKEN_PREFIX + urlsafe base64).
    (re.compile(r"\blf_[A-Za-z0-9_-]{16,}"), "lf_" + _REDACTED),
    # Passwords in URLs: scheme://user:password@host
    (re.compile(r"(://[^/\s:@\"']*:)[^/\s@\"']+@"), r"\1" + _REDACTED + "@"),
]
_secrets: set[str] = set()


def add_secret(value: str | None) -> None:
    """Blank ``value`` wherever it would appear in a log line (e.g. the admin token)."""
    if value and len(value) >= 6:
        _secrets.add(value)


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _RedactingFilter(logging.Filter):
    """Adds ``request_id`` to every record and redacts its message and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we can
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of msg
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            data["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            data["exc"] = record.exc_text
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(rid)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.rid = f" [{request_id}]" if request_id else ""
        return super().format(record)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


_HANDLER_NAME = "livefeed"
# uvicorn's own loggers: in JSON mode they go through our handler too. Its access log stays
# off (livefeed.access replaces it: same line, plus route, request id and duration).
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")


def configure(log_format: str = "text", level: str = "info", secrets: Iterable[str] = ()) -> None:
    """Install the livefeed handler on the root logger (idempotent: replaces its own).

    Other handlers (a test runner's, say) are left alone. In JSON mode uvicorn's loggers
    are routed through the same handler so that every line on stderr is JSON.
    """
    for secret in secrets:
        add_secret(secret)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(_RedactingFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    if log_format == "json":
        for name in _UVICORN_LOGGERS:
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
        access = logging.getLogger("uvicorn.access")
        access.handlers.clear()
        access.propagate = False


class RequestContextMiddleware:
    """Pure ASGI: request id in and out, and one access-log line per HTTP request.

    The line is written when the response starts (for streams: when the stream opens),
    without headers or query string, so no credential can end up in it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = _request_id.set(request_id)
        started = time.perf_counter()
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = [h for h in message.get("headers", []) if h[0] != header[0]]
                headers.append(header)
                message = {**message, "headers": headers}
                if message["type"] == "http.response.start":
                    _log_access(scope, int(message["status"]), started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if scope["type"] == "http":
                _log_access(scope, 500, started)
            raise
        finally:
            _request_id.reset(token)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _VALID_REQUEST_ID.match(candidate) else None
    return None


def _log_access(scope: Scope, status: int, started: float) -> None:
    path: str = scope.get("path", "")
    level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    method = scope.get("method", "GET")
    route = route_template(scope)
    access_log.log(
        level,
        "%s %s %d",
        method,
        route,
        status,
        extra={
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "client": (scope.get("client") or ("-",))[0],
        },
    )
