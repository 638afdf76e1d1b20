"""The one table of live close codes: code, reason, and what a client does next.

Every transport closes a stream with one of these (SSE ends the stream, or refuses it
with :attr:`CloseCode.http_status` before it starts). The same table goes to the browser
(:func:`client_table`, rendered into every page as
``<script type="application/json" id="livefeed-config">``), so the client's reconnect
policy cannot drift from the server's codes, and the README's close-code table is checked
against it by a test.

Client policies:

- ``reconnect``: open the stream again with ``since`` = the last rev received, after a
  random delay in ``delay_ms`` (``None``: the client's normal backoff with jitter);
- ``retry_after``: the server is over budget; reconnect with ``since`` after about
  ``retry_after`` seconds (plus jitter), not sooner;
- ``stop``: do not reconnect; show the reader ``message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.i18n import N_

Policy = Literal["reconnect", "retry_after", "stop"]

#: Seconds a reader waits before retrying after an overload close (1013).
OVERLOAD_RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True, slots=True)
class CloseCode:
    """One close code and the contract around it."""

    code: int
    name: str
    #: The close frame's reason text (ASCII; a transport may append detail after ": ").
    reason: str
    policy: Policy
    #: What the code means, for the README table.
    description: str
    #: ``reconnect``: random delay range in ms before reconnecting; None = normal backoff.
    delay_ms: tuple[int, int] | None = None
    #: ``retry_after``: seconds to wait before reconnecting.
    retry_after: int | None = None
    #: ``stop``: what the reader is told.
    message: str | None = None
    #: The HTTP status an SSE request refused for the same cause gets (None: not a refusal).
    http_status: int | None = None


SERVICE_RESTART = CloseCode(
    1012,
    "service_restart",
    "server restarting: reconnect",
    "reconnect",
    "the process is draining (deploy, SIGTERM)",
    delay_ms=(250, 2000),
    http_status=503,
)
SLOW_READER = CloseCode(
    4008,
    "slow_reader",
    "slow reader: reconnect with since=<last rev>",
    "reconnect",
    "the stream's unsent live events, or those held during its catch-up, passed "
    "`LIVEFEED_SEND_BUFFER_BYTES`",
    delay_ms=(0, 0),
)
POLICY = CloseCode(
    1008,
    "policy",
    "policy violation",
    "reconnect",
    "more than `LIVEFEED_CLIENT_MAX_MESSAGES_PER_MINUTE` client frames (messages and pings "
    "alike) in a minute",
)
TOO_BIG = CloseCode(
    1009,
    "too_big",
    "frame too large",
    "reconnect",
    "a client frame over `LIVEFEED_CLIENT_MAX_MESSAGE_BYTES`",
)
TRY_AGAIN_LATER = CloseCode(
    1013,
    "try_again_later",
    "server busy: retry later",
    "retry_after",
    "the server is over its catch-up budget (SSE: 503 with `Retry-After`)",
    retry_after=OVERLOAD_RETRY_AFTER_SECONDS,
    http_status=503,
)
PROTOCOL_ERROR = CloseCode(
    1002,
    "protocol_error",
    "protocol error",
    "reconnect",
    "the client broke RFC 6455 (unmasked frame, reserved bits or opcodes, a control frame "
    "fragmented or over 125 bytes, an orphan continuation, an invalid close code such as "
    "1005/1006/1015/999)",
)
INVALID_DATA = CloseCode(
    1007,
    "invalid_data",
    "invalid data",
    "reconnect",
    "a client text message (or close reason) was not valid UTF-8",
)
INTERNAL_ERROR = CloseCode(
    1011,
    "internal_error",
    "internal error",
    "reconnect",
    "an unexpected server error opening the stream (logged); never expected in operation",
)
UNKNOWN_FEED = CloseCode(
    4404,
    "unknown_feed",
    "feed not found",
    "stop",
    "no feed with this slug",
    message=N_("This live feed does not exist."),
    http_status=404,
)
ORIGIN_REFUSED = CloseCode(
    4403,
    "origin_refused",
    "origin not allowed to embed this feed",
    "stop",
    "the page's origin is not in the feed's `allowed_origins`",
    message=N_("This feed cannot be shown live on this site."),
    http_status=403,
)
TEAM_SIGNED_OUT = CloseCode(
    4401,
    "signed_out",
    "signed out",
    "stop",
    "team channel only (`/api/feeds/{slug}/team/live`): its session ended (sign-out, sign-out "
    "everywhere, password reset), or the account was disabled or lost the feed's `team.view`",
    message=N_("You have been signed out. Sign in again to continue."),
)

#: Every code, in the order the README lists them.
CLOSE_CODES: tuple[CloseCode, ...] = (
    SERVICE_RESTART,
    SLOW_READER,
    TRY_AGAIN_LATER,
    POLICY,
    TOO_BIG,
    PROTOCOL_ERROR,
    INVALID_DATA,
    INTERNAL_ERROR,
    UNKNOWN_FEED,
    ORIGIN_REFUSED,
    TEAM_SIGNED_OUT,
)
BY_CODE: dict[int, CloseCode] = {entry.code: entry for entry in CLOSE_CODES}

# Plain ints for the transports' hot paths and for callers that only need the number.
CLOSE_SERVICE_RESTART = SERVICE_RESTART.code
CLOSE_SLOW_READER = SLOW_READER.code
CLOSE_POLICY = POLICY.code
CLOSE_TOO_BIG = TOO_BIG.code
CLOSE_TRY_AGAIN_LATER = TRY_AGAIN_LATER.code
CLOSE_PROTOCOL_ERROR = PROTOCOL_ERROR.code
CLOSE_INVALID_DATA = INVALID_DATA.code
CLOSE_INTERNAL_ERROR = INTERNAL_ERROR.code
CLOSE_UNKNOWN_FEED = UNKNOWN_FEED.code
CLOSE_ORIGIN_REFUSED = ORIGIN_REFUSED.code


ClientPolicy = dict[str, str | int | list[int] | None]


def client_table() -> dict[str, ClientPolicy]:
    """The table as the browser client reads it: ``{"<code>": {name, reason, policy,
    delay_ms, retry_after, message}}`` — JSON-able, keys are the codes as strings."""
    return {
        str(entry.code): {
            "name": entry.name,
            "reason": entry.reason,
            "policy": entry.policy,
            "delay_ms": list(entry.delay_ms) if entry.delay_ms is not None else None,
            "retry_after": entry.retry_after,
            "message": entry.message,
        }
        for entry in CLOSE_CODES
    }


def readme_table() -> str:
    """The README's close-code table (Markdown), generated from this module."""
    lines = [
        "| code | meaning | SSE refused with | client does |",
        "|---|---|---|---|",
    ]
    for entry in CLOSE_CODES:
        sse = str(entry.http_status) if entry.http_status is not None else "—"
        lines.append(f"| **{entry.code}** | {entry.description} | {sse} | {_client_does(entry)} |")
    return "\n".join(lines)


def _client_does(entry: CloseCode) -> str:
    if entry.policy == "stop":
        return f'stops; tells the reader "{entry.message}"'
    if entry.policy == "retry_after":
        return f"reconnects with `since` after {entry.retry_after} s"
    if entry.delay_ms == (0, 0):
        return "reconnects with `since` at once"
    if entry.delay_ms is not None:
        low, high = entry.delay_ms
        return f"reconnects with `since` after a random {low}–{high} ms"
    return "reconnects with `since`, with backoff"
