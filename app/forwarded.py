"""Who the client is: one rule for every transport (HTTP, SSE, both WebSocket engines, logs).

``X-Forwarded-For`` is believed only when the connection's peer is a trusted proxy
(``LIVEFEED_FORWARDED_ALLOW_IPS``: IP addresses or CIDR networks, comma-separated, or
``*`` for any peer). Then the list is walked from the right — the entry the nearest proxy
appended — skipping addresses that are themselves trusted proxies, and the first untrusted
hop is the client. Entries to its left were written by whoever the client is, and may be
forged; they are never used.

``*`` trusts the peer (whatever its address) as one proxy, but no entry of the list: the
client is then the rightmost entry, the address that one proxy saw. Behind a chain of
proxies, list their addresses instead. When every entry is a trusted proxy, the leftmost
is taken. Without a trusted peer, or without the header, the client is the peer.

``X-Forwarded-Proto`` (the last value) sets the request's scheme under the same trust.
:class:`ForwardedHeaders` applies this to every ASGI request (it replaces uvicorn's
``proxy_headers``, whose rule differs: with ``*`` it takes the *first*, forgeable entry);
the native WebSocket path calls :meth:`TrustedProxies.client_host` itself.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """``LIVEFEED_FORWARDED_ALLOW_IPS``, parsed once; see the module docstring for the rule."""

    __slots__ = ("_listed", "any_peer", "networks")

    #: Answers of :meth:`listed` kept per address (peers repeat: the proxies, and every
    #: reader of a restart storm from a few addresses); forgotten all at once when full.
    LISTED_CACHE = 4096

    def __init__(self, setting: str) -> None:
        items = [item.strip() for item in setting.split(",") if item.strip()]
        self.any_peer = "*" in items
        networks: list[Network] = []
        for item in items:
            with contextlib.suppress(ValueError):
                networks.append(ipaddress.ip_network(item, strict=False))
        self.networks = tuple(networks)
        self._listed: dict[str, bool] = {}

    def listed(self, host: str) -> bool:
        """``host`` is an address in the list (``*`` lists none)."""
        known = self._listed.get(host)
        if known is not None:
            return known
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            listed = False
        else:
            listed = any(address in network for network in self.networks)
        if len(self._listed) >= self.LISTED_CACHE:
            self._listed.clear()
        self._listed[host] = listed
        return listed

    def trusts_peer(self, host: str) -> bool:
        return self.any_peer or self.listed(host)

    def client_host(self, peer: str, forwarded_for: Iterable[str]) -> str:
        """The client's address for a connection from ``peer`` carrying these
        ``X-Forwarded-For`` header values (in the order they appear)."""
        if not self.trusts_peer(peer):
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        hops = [hop for hop in hops if hop]
        for hop in reversed(hops):
            if not self.listed(hop):
                return hop
        return hops[0] if hops else peer

    def scheme(self, peer: str, forwarded_proto: Iterable[str], default: str) -> str:
        """The scheme the client used (``X-Forwarded-Proto``'s last value, if trusted)."""
        if not self.trusts_peer(peer):
            return default
        values = [v.strip().lower() for value in forwarded_proto for v in value.split(",")]
        values = [v for v in values if v in ("http", "https", "ws", "wss")]
        return values[-1] if values else default


class ForwardedHeaders:
    """ASGI middleware: ``scope["client"]`` and ``scope["scheme"]`` by the rule above, for
    HTTP and WebSocket requests alike (logging, the per-address cap, origins)."""

    def __init__(self, app: ASGIApp, *, trusted: str) -> None:
        self.app = app
        self.proxies = TrustedProxies(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("client"):
            peer = scope["client"][0]
            forwarded: list[str] = []
            proto: list[str] = []
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    forwarded.append(value.decode("latin-1"))
                elif name == b"x-forwarded-proto":
                    proto.append(value.decode("latin-1"))
            if forwarded or proto:
                scope = dict(scope)
                host = self.proxies.client_host(peer, forwarded)
                if host != peer:
                    scope["client"] = (host, 0)
                scheme = self.proxies.scheme(peer, proto, scope.get("scheme", "http"))
                if scope["type"] == "websocket":
                    scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
                else:
                    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
                scope["scheme"] = scheme
        await self.app(scope, receive, send)
