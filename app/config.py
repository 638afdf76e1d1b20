"""Settings, read once from the environment (prefix ``LIVEFEED_``).

An invalid value stops start-up with one clear line (see :func:`load_settings`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob livefeed reads. Defaults are the embedded, single-process setup."""

    model_config = SettingsConfigDict(env_prefix="LIVEFEED_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./livefeed.db"
    redis_url: str | None = None
    admin_token: str | None = None
    public_url: str = "http://127.0.0.1:8000"

    # When set, GET /metrics needs "Authorization: Bearer <this>" (401 otherwise).
    metrics_token: str | None = None

    log_format: Literal["text", "json"] = "text"
    log_level: str = "info"

    # Request limits: bodies over max_request_bytes get 413 before they are parsed.
    max_request_bytes: int = Field(default=256 * 1024, ge=1024)
    max_entry_body_chars: int = Field(default=50_000, ge=100)
    # HTTP limits on every connection (app/http_limits.py): 414 / 431 / 408 / 503 / 429.
    max_url_bytes: int = Field(default=8192, ge=256)
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    keepalive_timeout_seconds: int = Field(default=5, ge=1)
    max_open_connections: int = Field(default=0, ge=0)  # 0 = from the descriptor limit
    max_http_connections_per_ip: int = Field(default=64, ge=0)  # 0 = unlimited

    # Live delivery.
    send_buffer_bytes: int = Field(default=1024 * 1024, ge=16 * 1024)
    catchup_max_events: int = Field(default=2000, ge=1)
    # Catch-up from memory (app/catchup.py): per served feed, the latest events kept for
    # resuming readers, bounded by count and by payload bytes; older events are read from
    # the store once per feed, with at most catchup_read_slots such reads at once (fewer
    # than the connection pool, so writes always get a connection). A reader whose read
    # waits longer than catchup_read_wait_seconds is closed 1013 (SSE: 503 + Retry-After).
    catchup_window_events: int = Field(default=500, ge=0)
    catchup_window_bytes: int = Field(default=512 * 1024, ge=0)
    catchup_read_slots: int = Field(default=4, ge=1, le=64)
    catchup_read_wait_seconds: float = Field(default=5.0, gt=0)
    heartbeat_seconds: float = Field(default=25.0, gt=0)
    store_poll_seconds: float = Field(default=1.0, gt=0)  # while the broker is down
    #: How often live reader counts are reported and, when changed, pushed (app/presence.py).
    readers_interval_seconds: float = Field(default=2.0, gt=0)
    resync_seconds: float = Field(default=5.0, gt=0)  # safety re-read while it is up
    #: How often each process publishes the scheduled entries that are due (app/scheduler.py).
    scheduler_interval_seconds: float = Field(default=1.0, gt=0)
    # Live streams (WebSocket and SSE) per client address; past it the handshake gets 429.
    max_connections_per_ip: int = Field(default=100, ge=0)  # 0 = unlimited
    # Live streams per process; past it the handshake gets 503. 0 = from the descriptor
    # limit (see app.live.access.live_connection_budget).
    max_live_connections: int = Field(default=0, ge=0)
    client_max_message_bytes: int = Field(default=4096, ge=16)
    client_max_messages_per_minute: int = Field(default=120, ge=1)
    shutdown_timeout_seconds: float = Field(default=10.0, gt=0)
    # WebSocket implementation under `livefeed serve`: "native" serves /ws/feeds/… from a
    # plain asyncio protocol (app/live/native_ws.py); "asgi" through uvicorn + Starlette.
    ws_engine: Literal["native", "asgi"] = "native"
    # On SIGTERM: live connections close with 1012 at once, then HTTP is still served this
    # long with /readyz answering 503 (so a load balancer takes the process out of rotation)
    # before the server stops. 0 stops at once. SIGINT (Ctrl-C) never waits.
    drain_seconds: float = Field(default=0.0, ge=0)

    # Proxies trusted to set X-Forwarded-For/-Proto (comma-separated IPs or CIDRs, or "*"
    # when only the proxy can reach the app, as on the compose network).
    forwarded_allow_ips: str = "127.0.0.1"

    # Media (app/media/). Uploads larger than max_upload_bytes get 413; so do images with
    # more than max_image_pixels pixels (decompression-bomb guard, checked before decoding).
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=50_000_000, ge=10_000)
    media_backend: Literal["local", "s3"] = "local"
    media_dir: str = "./media"  # local backend: served at /media/…
    # Where readers fetch media from: the local default is this app's /media; with S3, the
    # bucket's public (or CDN) base URL. Unset with S3: ENDPOINT_URL/BUCKET (path style).
    media_public_url: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_prefix: str = ""
    # oEmbed link cards: hosts that may resolve to private or loopback addresses (tests run a
    # provider on 127.0.0.1); everything else must resolve to a public address (SSRF guard).
    oembed_allow_private_hosts: str = ""
    oembed_timeout_seconds: float = Field(default=5.0, gt=0)
    oembed_max_bytes: int = Field(default=1024 * 1024, ge=1024)

    # Accounts (app/auth.py, app/store/accounts.py). A session cookie lives this long; a
    # password-reset link works once, within reset_link_max_age_seconds. Failed logins are
    # counted per client address and per account over login_window_seconds (in the
    # database, so across processes); past either limit a login gets 429 + Retry-After.
    session_max_age_seconds: int = Field(default=14 * 24 * 3600, ge=60)
    reset_link_max_age_seconds: int = Field(default=24 * 3600, ge=60)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_max_failures_per_account: int = Field(default=10, ge=1)
    # The address of the admin account `livefeed serve` creates when there is none.
    first_admin_email: str = "admin@localhost"
    # Optional: "forgot password" mails through this SMTP server (smtp://[user:pass@]host:port,
    # smtps:// for TLS from the start, smtp+starttls:// to upgrade). Unset: no such mails;
    # reset links come from an admin (CLI or API).
    smtp_url: str | None = None
    mail_from: str = "livefeed@localhost"

    @field_validator("public_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must be sqlite+aiosqlite:///PATH or postgresql+asyncpg://…")
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _known_smtp(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("smtp://", "smtps://", "smtp+starttls://")):
            raise ValueError("must start with smtp://, smtps:// or smtp+starttls://")
        return value

    @field_validator("media_public_url", "s3_endpoint_url")
    @classmethod
    def _optional_base_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://", "/")):
            raise ValueError("must start with http://, https:// or /")
        return value.rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class SettingsError(Exception):
    """Raised with a one-line, human-readable description of a bad setting."""


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise :class:`SettingsError` with one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "LIVEFEED_" + "_".join(str(part) for part in error["loc"]).upper()
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid setting " + "; ".join(problems)) from None
