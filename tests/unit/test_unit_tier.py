"""The unit tier's own guard (``tests/unit/conftest.py``): a unit test that tries to reach a
service or start a program fails, synchronously or through asyncio."""

from __future__ import annotations

import asyncio
import socket
import subprocess

import pytest


def test_a_network_connection_is_refused() -> None:
    with pytest.raises(RuntimeError, match="may not open network connections"):
        socket.create_connection(("127.0.0.1", 6379), timeout=1)


async def test_an_asyncio_connection_is_refused() -> None:
    with pytest.raises(RuntimeError, match="may not open network connections"):
        await asyncio.open_connection("127.0.0.1", 5432)


def test_starting_a_program_is_refused() -> None:
    with pytest.raises(RuntimeError, match="may not start processes"):
        subprocess.run(["true"], check=False)


async def test_starting_a_program_from_asyncio_is_refused() -> None:
    with pytest.raises(RuntimeError, match="may not start processes"):
        await asyncio.create_subprocess_exec("true")
