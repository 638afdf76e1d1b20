"""The unit tier needs no services: nothing here starts a process or opens a connection.

``tests/conftest.py`` refuses (at collection) any unit test that asks for a service or browser
fixture. As a second net, every unit test runs with network connections and new processes
refused: a unit test that reaches for Redis, PostgreSQL, a server or a program fails at once,
naming what it tried, instead of passing on a developer's machine that happens to run one.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def no_services(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse_connection(_sock: socket.socket, address: Any, *_args: Any) -> Any:
        raise RuntimeError(f"unit tests may not open network connections (to {address!r})")

    def refuse_process(*args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"unit tests may not start processes ({args[1:2]!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse_connection)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connection)
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse_process)
    yield
