"""The one client-address rule (app/forwarded.py): trust X-Forwarded-For only from a
trusted peer, and take the nearest untrusted hop."""

from __future__ import annotations

from typing import Any

import pytest

from app.forwarded import ForwardedHeaders, TrustedProxies

PROXY = "10.0.0.1"


@pytest.mark.parametrize(
    ("setting", "peer", "forwarded", "client"),
    [
        # No header, or an untrusted peer: the peer, whatever the header says.
        ("127.0.0.1", "127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", "8.8.8.8", ["1.2.3.4"], "8.8.8.8"),
        # One trusted proxy: the address it appended (the rightmost), not a forged one.
        (PROXY, PROXY, ["6.6.6.6, 203.0.113.7"], "203.0.113.7"),
        (PROXY, PROXY, ["6.6.6.6", "203.0.113.7"], "203.0.113.7"),  # two header lines
        # A chain of listed proxies is skipped, right to left.
        ("10.0.0.0/8", PROXY, ["6.6.6.6, 203.0.113.7, 10.1.1.1, 10.2.2.2"], "203.0.113.7"),
        # "*": any peer is one proxy, no entry is trusted: the rightmost entry.
        ("*", "192.0.2.1", ["6.6.6.6, 203.0.113.7"], "203.0.113.7"),
        # Only proxies in the list: the leftmost.
        ("10.0.0.0/8", PROXY, ["10.3.3.3, 10.2.2.2"], "10.3.3.3"),
        # Empty entries are ignored; an empty header is no header.
        (PROXY, PROXY, [" , 203.0.113.7 ,"], "203.0.113.7"),
        (PROXY, PROXY, [""], PROXY),
        # IPv6.
        ("::1", "::1", ["2001:db8::5"], "2001:db8::5"),
    ],
)
def test_client_host(setting: str, peer: str, forwarded: list[str], client: str) -> None:
    assert TrustedProxies(setting).client_host(peer, forwarded) == client


def test_bad_entries_in_the_setting_are_ignored() -> None:
    proxies = TrustedProxies("not-an-ip, 10.0.0.0/8")
    assert proxies.trusts_peer("10.9.9.9")
    assert not proxies.trusts_peer("not-an-ip")


async def _scope_after(setting: str, scope: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    async def receive() -> Any:
        raise AssertionError

    async def send(message: Any) -> None:
        raise AssertionError

    await ForwardedHeaders(app, trusted=setting)(scope, receive, send)
    return seen


async def test_middleware_sets_client_and_scheme_for_http_and_websocket() -> None:
    headers = [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7"), (b"x-forwarded-proto", b"https")]
    http = await _scope_after(
        PROXY, {"type": "http", "client": (PROXY, 5000), "scheme": "http", "headers": headers}
    )
    assert http["client"] == ("203.0.113.7", 0) and http["scheme"] == "https"
    ws = await _scope_after(
        PROXY, {"type": "websocket", "client": (PROXY, 5000), "scheme": "ws", "headers": headers}
    )
    assert ws["client"] == ("203.0.113.7", 0) and ws["scheme"] == "wss"
    untrusted = await _scope_after(
        PROXY, {"type": "http", "client": ("8.8.8.8", 1), "scheme": "http", "headers": headers}
    )
    assert untrusted["client"] == ("8.8.8.8", 1) and untrusted["scheme"] == "http"
