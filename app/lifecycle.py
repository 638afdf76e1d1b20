"""Graceful drain, process-wide: SIGTERM reaches every app running in this process.

Signals are per process, so this registry is too. ``begin_drain`` marks each app as
draining (``/readyz`` answers 503, new live connections are refused with 1012 / 503) and
closes its live connections with 1012 so clients reconnect to another process. On SIGTERM
the server keeps answering HTTP for ``LIVEFEED_DRAIN_SECONDS`` (default 0) so a load
balancer polling ``/readyz`` takes it out of rotation; then it finishes in-flight requests
(up to ``LIVEFEED_SHUTDOWN_TIMEOUT_SECONDS``) and exits. A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
from types import FrameType
from typing import Any

from app.live.close_codes import SERVICE_RESTART
from app.state import AppState

log = logging.getLogger(__name__)

_running: list[tuple[asyncio.AbstractEventLoop, AppState]] = []
#: Whether this process's start-up heap is frozen (see :func:`_freeze_startup_heap`).
_heap_frozen = False


def register(state: AppState) -> None:
    """Track a running app, and make SIGTERM/SIGINT drain it before the server stops."""
    _running.append((asyncio.get_running_loop(), state))
    _chain_signal_handlers()
    _freeze_startup_heap()


def _freeze_startup_heap() -> None:
    """Once per process, when its first app is up: collect, then move every object still
    alive (modules, the app, the engine: ~100k objects) out of the cyclic collector's reach
    (:func:`gc.freeze`). Its full collections walk the whole heap, and a burst of thousands
    of connections (a restart storm) triggers several: without the start-up heap they walk
    only what came after it. Frozen objects are never collected; they are start-up state
    that lives as long as the process, and it is done once, so nothing accumulates."""
    global _heap_frozen
    if _heap_frozen:
        return
    _heap_frozen = True
    gc.collect()
    gc.freeze()


def _drain_delay(signum: int) -> float:
    if signum != signal.SIGTERM:
        return 0.0
    return max((s.settings.drain_seconds for _loop, s in _running), default=0.0)


def _chain_signal_handlers() -> None:
    # uvicorn installs its exit handlers before the lifespan starts (in every worker);
    # put begin_drain in front of them. Re-done for each app: uvicorn may have reinstalled.
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if getattr(previous, "_livefeed_drain", False):
            continue

        def stop(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                signal.default_int_handler(signum, frame)

        def handler(signum: int, frame: FrameType | None, stop: Any = stop) -> None:
            already = any(s.draining.is_set() for _loop, s in _running)
            begin_drain()
            delay = 0.0 if already else _drain_delay(signum)
            if delay > 0 and _running:
                log.info("draining: serving HTTP for %.1fs more, /readyz answers 503", delay)
                loop = _running[0][0]
                loop.call_soon_threadsafe(loop.call_later, delay, stop, signum, None)
            else:
                stop(signum, frame)

        handler._livefeed_drain = True  # type: ignore[attr-defined]
        signal.signal(sig, handler)


def unregister(state: AppState) -> None:
    _running[:] = [(loop, s) for loop, s in _running if s is not state]


def drain(state: AppState) -> None:
    if state.draining.is_set():
        return
    state.draining.set()
    log.info("draining: closing %d live connections with 1012", state.hub.subscriber_count())
    state.hub.close_all(SERVICE_RESTART.code, SERVICE_RESTART.reason)


def begin_drain() -> None:
    """Safe to call from a signal handler."""
    for loop, state in list(_running):
        loop.call_soon_threadsafe(drain, state)
