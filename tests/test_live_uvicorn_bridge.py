"""The uvicorn internals the WebSocket engines rely on are all still there.

:mod:`app.live.uvicorn_bridge` names every one of them; an uvicorn upgrade that renames or
reshapes any fails here, not in production.
"""

from __future__ import annotations

import inspect

import pytest
import uvicorn
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.datastructures import Headers
from websockets.http11 import Response

from app.live import uvicorn_bridge


def test_installed_uvicorn_is_compatible() -> None:
    assert uvicorn_bridge.check_compatible() == []


def test_an_incompatible_uvicorn_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: remove a hook the ASGI engine overrides, and it says so."""
    monkeypatch.delattr(WebSocketsSansIOProtocol, "handle_ping")
    problems = uvicorn_bridge.check_compatible()
    assert any("handle_ping" in problem for problem in problems), problems


def test_the_asgi_engine_overrides_only_hooks_uvicorn_has() -> None:
    own = uvicorn_bridge.AsgiWebSocketProtocol
    for name, member in vars(own).items():
        if name.startswith("_") or not inspect.isfunction(member):
            continue
        assert hasattr(WebSocketsSansIOProtocol, name), f"uvicorn has no {name}() to override"
        ours = inspect.signature(member).parameters
        theirs = inspect.signature(getattr(WebSocketsSansIOProtocol, name)).parameters
        assert list(ours) == list(theirs), name


class _ClosingTransport:
    """A transport whose peer is already gone (``connection_lost`` not yet delivered)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def is_closing(self) -> bool:
        return True

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        pass


async def _never_called(scope: object, receive: object, send: object) -> None:
    raise AssertionError("the app is driven by hand here")


async def test_an_accept_after_the_client_vanished_ends_the_handshake() -> None:
    """uvicorn drops such an accept silently and leaves the handshake open, so an app that
    then returns is logged at ERROR ("returned without completing handshake"): the bridge
    ends the handshake and tells the app the client is gone, writing nothing."""
    config = uvicorn.Config(app=_never_called, ws=uvicorn_bridge.ASGI_ENGINE_PROTOCOL)
    config.load()
    protocol = uvicorn_bridge.AsgiWebSocketProtocol(
        config=config, server_state=ServerState(), app_state={}
    )
    transport = _ClosingTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    # What handle_connect() leaves behind for the app's accept (without running the app).
    protocol.scope = {"type": "websocket", "client": None, "root_path": "", "path": "/ws"}
    protocol.scope["query_string"] = b""
    protocol.response = Response(101, "Switching Protocols", Headers({"Date": "now"}))
    with pytest.raises(ClientDisconnected):
        await protocol.send({"type": "websocket.accept"})
    assert protocol.handshake_complete
    assert transport.written == []
