"""The uvicorn internals the WebSocket engines rely on are all still there.

:mod:`app.live.uvicorn_bridge` names every one of them; an uvicorn upgrade that renames or
reshapes any fails here, not in production.
"""

from __future__ import annotations

import inspect

import pytest
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

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
