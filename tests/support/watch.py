"""What a test's clients and servers reported going wrong, checked after every test.

Two records, both read by the autouse fixture in :mod:`tests.support.fixtures` so that no
process-level test can forget them:

* **close codes**: every live connection a test client sees end *from the server side*
  is reported with :func:`record_close` (a WebSocket close code; :data:`ABRUPT` when the
  connection ended without one: a WebSocket with no close frame, or an SSE stream the
  server ended). A test states the codes it expects with
  ``@pytest.mark.close_codes(1012, ABRUPT)``; any other code fails it. Connections the
  client itself ends (cancelled, aborted on purpose, reloading after ``reset``) are not
  reported.
* **server logs**: every ``livefeed serve`` log is scanned for a traceback or a record at
  ERROR/CRITICAL (text or JSON format; see :data:`PROBLEM_LINE`). A test that provokes one
  on purpose names it with ``@pytest.mark.server_log_allows(r"regex", …)``.

No pytest dependency here, so the test helpers (``tests/live_support.py``,
``tests/ops_support.py``) can report without importing the plugin.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "ABRUPT",
    "PROBLEM_LINE",
    "CloseRecord",
    "at_teardown",
    "closes_seen",
    "record_close",
    "reset",
    "run_teardowns",
]

#: RFC 6455's code for "the connection ended without a close frame" (never sent on the wire).
ABRUPT = 1006

#: A line of a server log that means something went wrong: a Python traceback, a text-format
#: record at ERROR or CRITICAL (livefeed's ``… ERROR   name: …`` or uvicorn's ``ERROR:``),
#: or a JSON record with ``"level": "error"``/``"critical"``.
PROBLEM_LINE = re.compile(
    r"Traceback \(most recent call last\)"
    r"|(?:^|\s)(?:ERROR|CRITICAL)(?::|\s)"
    r'|"level":\s*"(?:error|critical)"'
)


@dataclass(frozen=True)
class CloseRecord:
    who: str
    url: str
    code: int


_lock = threading.Lock()
_closes: list[CloseRecord] = []
_teardowns: list[Callable[[], object]] = []


def record_close(who: str, url: str, code: int | None) -> None:
    """A live connection of client ``who`` to ``url`` was ended by the server with ``code``
    (``None``: without a close code, recorded as :data:`ABRUPT`)."""
    with _lock:
        _closes.append(CloseRecord(who, url, ABRUPT if code is None else code))


def closes_seen() -> list[CloseRecord]:
    with _lock:
        return list(_closes)


def reset() -> None:
    """Forget the closes recorded so far (called before each test)."""
    with _lock:
        _closes.clear()


def at_teardown(action: Callable[[], object]) -> None:
    """Run ``action`` when the current test ends (before its closes are checked): how a
    client a failing test left running (a reader task) is cancelled, so that it does not
    report the servers' shutdown into the next test."""
    with _lock:
        _teardowns.append(action)


def run_teardowns() -> None:
    with _lock:
        actions = list(_teardowns)
        _teardowns.clear()
    for action in actions:
        action()
