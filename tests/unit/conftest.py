"""The unit tier needs no services: nothing here starts a process or opens a connection.

``tests/conftest.py`` refuses (at collection) any unit test that asks for a service or browser
fixture. As a second net, every unit test runs with network connections refused: a unit test
that reaches for Redis, PostgreSQL or a server fails at once, naming the address, instead of
passing on a developer's machine that happens to run one.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(_sock: socket.socket, address: Any, *_args: Any) -> Any:
        raise RuntimeError(f"unit tests may not open network connections (to {address!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield
