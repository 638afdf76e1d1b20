"""Load client: many WebSocket readers on one uvloop, as raw asyncio Protocols.

Each reader offers ``permessage-deflate; client_max_window_bits`` like Chromium, inflates
RSV1 frames when the server negotiated deflate, answers pings (and Engine.IO pings for
Socket.IO), and records, for every delivered benchmark message, publish→delivery latency and
whether it is a duplicate.

A benchmark message is any data frame containing ``MARKER<seq>-<time_ns>-``; other frames
(hello, ready, handshakes) are ignored except as the "subscribed" signal.

Run as a worker process (``python -m bench.client``): it reads one JSON config line on stdin,
opens the connections, prints ``{"event": "ready", ...}``, and prints ``{"event": "result",
...}`` once every reader has received every message or when it reads ``report`` on stdin.
It exits on ``exit`` or end of stdin. ``Workers`` drives several such processes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import random
import sys
import time
import zlib
from array import array
from dataclasses import dataclass
from typing import Any

MARKER = b"LFBENCH-"
_MLEN = len(MARKER)
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_DEFLATE_TAIL = b"\x00\x00\xff\xff"
_time_ns = time.time_ns


def marker(seq: int, t_ns: int) -> str:
    return f"{MARKER.decode()}{seq}-{t_ns}-"


def mask_frame(opcode: int, payload: bytes) -> bytes:
    """A client→server frame (FIN, masked). Used only for a few tiny control replies."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return head + key + masked


class Stats:
    """Per-process counters shared by all readers."""

    def __init__(self, messages: int) -> None:
        self.messages = messages
        self.latency_us = array("q")
        self.duplicates = 0
        self.other_frames = 0
        self.bad_frames = 0
        self.closed_early = 0
        self.compressed_frames = 0
        self.complete_readers = 0
        self.all_done = asyncio.Event()
        self.expected_readers = 0


class Reader(asyncio.Protocol):
    __slots__ = (
        "_frag",
        "_frag_rsv1",
        "buf",
        "deflate",
        "got",
        "inflater",
        "key",
        "protocol",
        "ready",
        "ready_on_frame",
        "seen",
        "stats",
        "transport",
        "upgraded",
    )

    def __init__(self, stats: Stats, protocol: str, ready_on_frame: bool) -> None:
        self.stats = stats
        self.protocol = protocol
        self.ready_on_frame = ready_on_frame
        self.buf = b""
        self.upgraded = False
        self.deflate = False
        self.inflater: Any = None
        self.seen = bytearray(stats.messages)
        self.got = 0
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._frag: list[bytes] | None = None
        self._frag_rsv1 = False
        self.key = base64.b64encode(os.urandom(16))

    # -- handshake ---------------------------------------------------------------------
    def handshake(self, host: str, port: int, path: str, deflate: bool) -> bytes:
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Connection: Upgrade",
            "Pragma: no-cache",
            "Cache-Control: no-cache",
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64) livefeed-bench",
            "Upgrade: websocket",
            f"Origin: http://{host}:{port}",
            "Sec-WebSocket-Version: 13",
            f"Sec-WebSocket-Key: {self.key.decode()}",
        ]
        if deflate:
            lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before ready: {exc}"))
        elif self.got < self.stats.messages:
            self.stats.closed_early += 1

    def _set_ready(self) -> None:
        if not self.ready.done():
            self.ready.set_result(None)

    def _upgrade(self, data: bytes) -> bytes | None:
        data = self.buf + data
        end = data.find(b"\r\n\r\n")
        if end < 0:
            self.buf = data
            return None
        head = data[:end].decode("latin-1")
        status, *headers = head.split("\r\n")
        if " 101 " not in status + " ":
            self.ready.set_exception(ConnectionError(f"upgrade refused: {status}"))
            self.transport.close()  # type: ignore[union-attr]
            return None
        accept = base64.b64encode(hashlib.sha1(self.key + _GUID).digest()).decode()
        ok = False
        for h in headers:
            name, _, value = h.partition(":")
            name = name.strip().lower()
            if name == "sec-websocket-accept":
                ok = value.strip() == accept
            elif name == "sec-websocket-extensions" and "permessage-deflate" in value:
                self.deflate = True
        if not ok:
            self.ready.set_exception(ConnectionError("bad Sec-WebSocket-Accept"))
            self.transport.close()  # type: ignore[union-attr]
            return None
        self.upgraded = True
        self.buf = b""
        if not self.ready_on_frame:
            self._set_ready()
        return data[end + 4 :]

    # -- frames ------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            rest = self._upgrade(data)
            if not rest:
                return
            data = rest
        elif self.buf:
            data = self.buf + data
        now = _time_ns()
        n = len(data)
        pos = 0
        while n - pos >= 2:
            b0 = data[pos]
            ln = data[pos + 1] & 0x7F
            if ln < 126:
                start = pos + 2
            elif ln == 126:
                if n - pos < 4:
                    break
                ln = int.from_bytes(data[pos + 2 : pos + 4], "big")
                start = pos + 4
            else:
                if n - pos < 10:
                    break
                ln = int.from_bytes(data[pos + 2 : pos + 10], "big")
                start = pos + 10
            end = start + ln
            if end > n:
                break
            payload = data[start:end]
            pos = end
            opcode = b0 & 0x0F
            if opcode >= 8:
                self._control(opcode, payload)
                continue
            rsv1 = b0 & 0x40
            if not b0 & 0x80:  # fragmented
                if opcode:
                    self._frag = [payload]
                    self._frag_rsv1 = bool(rsv1)
                elif self._frag is not None:
                    self._frag.append(payload)
                continue
            if opcode == 0 and self._frag is not None:
                self._frag.append(payload)
                payload = b"".join(self._frag)
                rsv1 = self._frag_rsv1
                self._frag = None
            if rsv1:
                if self.inflater is None:
                    self.inflater = zlib.decompressobj(-15)
                payload = self.inflater.decompress(payload + _DEFLATE_TAIL)
                self.stats.compressed_frames += 1
            self._message(payload, now)
        self.buf = data[pos:] if pos < n else b""

    def _message(self, payload: bytes, now: int) -> None:
        i = payload.find(MARKER)
        if i < 0:
            self._other(payload)
            return
        i += _MLEN
        j = payload.find(b"-", i)
        k = payload.find(b"-", j + 1)
        try:
            seq = int(payload[i:j])
            sent = int(payload[j + 1 : k])
        except ValueError:
            self.stats.bad_frames += 1
            return
        st = self.stats
        if seq >= st.messages or self.seen[seq]:
            st.duplicates += 1
            return
        self.seen[seq] = 1
        st.latency_us.append((now - sent) // 1000)
        self.got += 1
        if self.got == st.messages:
            st.complete_readers += 1
            if st.complete_readers >= st.expected_readers:
                st.all_done.set()

    def _other(self, payload: bytes) -> None:
        self.stats.other_frames += 1
        if self.protocol == "socketio":
            # Engine.IO v4: "0{...}" open → send namespace connect "40"; "40{...}" connected;
            # "2" ping → "3" pong.
            if payload[:1] == b"0":
                self.transport.write(mask_frame(1, b"40"))  # type: ignore[union-attr]
            elif payload[:2] == b"40":
                self._set_ready()
            elif payload == b"2":
                self.transport.write(mask_frame(1, b"3"))  # type: ignore[union-attr]
        elif self.ready_on_frame:
            self._set_ready()

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == 9:
            self.transport.write(mask_frame(10, payload))  # type: ignore[union-attr]
        elif opcode == 8:
            with contextlib.suppress(Exception):
                self.transport.write(mask_frame(8, payload[:2]))  # type: ignore[union-attr]
            self.transport.close()  # type: ignore[union-attr]


@dataclass
class Target:
    host: str
    port: int
    path: str


async def open_readers(cfg: dict[str, Any], stats: Stats) -> tuple[list[Reader], list[str]]:
    loop = asyncio.get_running_loop()
    targets = [Target(**t) for t in cfg["targets"]]
    count = int(cfg["count"])
    protocol = cfg.get("protocol", "plain")
    ready_on_frame = cfg.get("ready", "upgrade") == "frame"
    deflate = bool(cfg.get("deflate", True))
    timeout = float(cfg.get("connect_timeout", 30))
    sem = asyncio.Semaphore(int(cfg.get("concurrency", 100)))
    first = int(cfg.get("first_index", 0))
    readers: list[Reader] = []
    errors: list[str] = []

    async def one(i: int) -> None:
        t = targets[(first + i) % len(targets)]
        async with sem:
            r = Reader(stats, protocol, ready_on_frame)
            try:
                await loop.create_connection(lambda: r, t.host, t.port)
                r.transport.write(r.handshake(t.host, t.port, t.path, deflate))  # type: ignore[union-attr]
                await asyncio.wait_for(r.ready, timeout)
                readers.append(r)
            except Exception as e:
                errors.append(f"{type(e).__name__}: {e}")
                if r.transport is not None:
                    r.transport.close()

    await asyncio.gather(*(one(i) for i in range(count)))
    return readers, errors


def _histogram(values: Any) -> dict[str, int]:
    h: dict[str, int] = {}
    for v in values:
        h[str(v)] = h.get(str(v), 0) + 1
    return h


def _cpu() -> tuple[float, float]:
    t = os.times()
    return t.user, t.system


async def worker_main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def emit(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    cfg = json.loads(await reader.readline())
    if cfg.get("mode") == "storm":
        await storm_main(cfg, reader, emit)
        return
    stats = Stats(int(cfg["messages"]))
    t0 = time.monotonic()
    readers, errors = await open_readers(cfg, stats)
    stats.expected_readers = len(readers)
    if not readers:
        stats.all_done.set()
    await asyncio.sleep(float(cfg.get("settle", 0.0)))
    emit(
        {
            "event": "ready",
            "connected": len(readers),
            "failed": len(errors),
            "errors": errors[:5],
            "connect_s": time.monotonic() - t0,
            "deflate": sum(r.deflate for r in readers),
        }
    )
    cpu0 = _cpu()

    async def wait_report() -> None:
        while True:
            line = await reader.readline()
            if not line or line.strip() == b"report":
                return

    waiter = asyncio.ensure_future(wait_report())
    done = asyncio.ensure_future(stats.all_done.wait())
    await asyncio.wait({waiter, done}, return_when=asyncio.FIRST_COMPLETED)
    cpu1 = _cpu()
    lat = stats.latency_us
    emit(
        {
            "event": "result",
            "readers": len(readers),
            "failed": len(errors),
            "received": len(lat),
            "duplicates": stats.duplicates,
            "other_frames": stats.other_frames,
            "bad_frames": stats.bad_frames,
            "closed_early": stats.closed_early,
            "compressed_frames": stats.compressed_frames,
            "complete_readers": stats.complete_readers,
            "per_reader_counts": _histogram(r.got for r in readers),
            "cpu_s": sum(cpu1) - sum(cpu0),
            "cpu_user_s": cpu1[0] - cpu0[0],
            "latency_us_b64": base64.b64encode(lat.tobytes()).decode(),
        }
    )
    if not waiter.done():
        await waiter  # wait for "exit" / EOF before closing connections
    done.cancel()
    for r in readers:
        if r.transport is not None:
            r.transport.close()


class Workers:
    """Drives ``processes`` client worker processes from the benchmark process."""

    def __init__(self, cfg: dict[str, Any], processes: int) -> None:
        self.cfg = cfg
        self.processes = max(1, min(processes, int(cfg["count"]) or 1))
        self.procs: list[asyncio.subprocess.Process] = []
        self.ready: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []

    async def start(self, wait_s: float = 120) -> list[dict[str, Any]]:
        count = int(self.cfg["count"])
        k = self.processes
        share = [count // k + (i < count % k) for i in range(k)]
        first = 0
        for n in share:
            cfg = dict(self.cfg, count=n, first_index=first)
            first += n
            p = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.client",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=2**28,
            )
            assert p.stdin is not None
            p.stdin.write(json.dumps(cfg).encode() + b"\n")
            await p.stdin.drain()
            self.procs.append(p)
        self.ready = await asyncio.wait_for(
            asyncio.gather(*(self._line(p, "ready") for p in self.procs)), wait_s
        )
        return self.ready

    async def _line(self, p: asyncio.subprocess.Process, event: str) -> dict[str, Any]:
        assert p.stdout is not None
        while True:
            line = await p.stdout.readline()
            if not line:
                raise RuntimeError(f"client worker exited before {event!r} (rc={p.returncode})")
            msg = json.loads(line)
            if msg.get("event") == event:
                return dict(msg)

    async def results_within(self, wait_s: float) -> tuple[list[dict[str, Any]], float]:
        """Wait for every worker's result; after ``wait_s`` ask the stragglers to report.

        Returns the results and the monotonic time at which the last one arrived.
        """
        tasks = [asyncio.ensure_future(self._line(p, "result")) for p in self.procs]
        _, pending = await asyncio.wait(tasks, timeout=wait_s)
        if pending:
            for p in self.procs:
                with contextlib.suppress(Exception):
                    p.stdin.write(b"report\n")  # type: ignore[union-attr]
            await asyncio.wait(pending, timeout=30)
        t_end = time.monotonic()
        self.results = [t.result() for t in tasks if t.done() and not t.exception()]
        return self.results, t_end

    async def stop(self) -> None:
        for p in self.procs:
            with contextlib.suppress(Exception):
                p.stdin.write(b"exit\n")  # type: ignore[union-attr]
                p.stdin.close()  # type: ignore[union-attr]
        for p in self.procs:
            try:
                await asyncio.wait_for(p.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                await p.wait()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]


def latencies(results: list[dict[str, Any]]) -> array[int]:
    out = array("q")
    for r in results:
        out.frombytes(base64.b64decode(r["latency_us_b64"]))
    return out


# -- storm mode: readers that reconnect with `since`, like the browser client ---------------

#: Backoff of ``web/static/livefeed.js``: cap = min(MAX, 1 s × 2^attempt), delay uniform in
#: [cap/2, cap]; attempt resets on hello. 1012 reconnects after 250–2000 ms; 4008 at once;
#: 1013 after the close-code table's retry_after (5 s) plus up to 1 s of jitter.
MAX_BACKOFF_S = 30.0
RESTART_DELAY_S = (0.25, 2.0)
RETRY_AFTER_S = 5.0
_REV = b'"rev":'


class StormStats:
    """Per-process counters of the storm readers."""

    def __init__(self) -> None:
        self.closes: dict[int, int] = {}  # close code → count (1006: lost without a close)
        self.connects = 0
        self.failed_attempts = 0  # refused, reset or not upgraded
        self.gaps = 0
        self.duplicates = 0
        self.resets = 0
        self.bad_frames = 0
        self.hellos = 0
        #: rev → the latest wall-clock ns at which some reader first held it.
        self.reached_ns: dict[int, int] = {}
        self.changed = asyncio.Event()
        #: Set at exit: no more reconnects.
        self.stopped = False


class StormSocket(Reader):
    """One WebSocket of a :class:`Follower`: the load client's framing, storm bookkeeping."""

    __slots__ = ("close_code", "follower")

    def __init__(self, follower: Follower) -> None:
        super().__init__(Stats(0), "plain", ready_on_frame=True)
        self.follower = follower
        self.close_code = 1006

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_result(None)  # nobody awaits it in storm mode
        self.follower.lost(self)

    def _message(self, payload: bytes, now: int) -> None:
        self._set_ready()
        self.follower.on_event(payload, now)

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == 8 and len(payload) >= 2:
            self.close_code = int.from_bytes(payload[:2], "big")
        super()._control(opcode, payload)


class Follower:
    """A reader page: holds the last rev it received, checks every event is the next rev,
    and on any close reconnects with ``since`` as ``web/static/livefeed.js`` does."""

    __slots__ = ("attempt", "last_rev", "path", "sock", "stats", "target")

    def __init__(self, stats: StormStats, target: Target, rev: int) -> None:
        self.stats = stats
        self.target = target
        self.path = target.path
        self.last_rev = rev
        self.attempt = 0
        self.sock: StormSocket | None = None

    async def open(self) -> bool:
        """One connection attempt; True once the upgrade succeeded."""
        if self.stats.stopped:
            return False
        t = self.target
        sock = StormSocket(self)
        self.sock = sock
        try:
            await asyncio.get_running_loop().create_connection(lambda: sock, t.host, t.port)
            path = f"{self.path}?since={self.last_rev}"
            sock.transport.write(sock.handshake(t.host, t.port, path, True))  # type: ignore[union-attr]
            return True
        except OSError:
            self.stats.failed_attempts += 1
            self.sock = None
            self._schedule(self._backoff())
            return False

    def on_event(self, payload: bytes, now: int) -> None:
        st = self.stats
        if payload.startswith(b'{"type":"readers"'):
            return  # the live reader count: not a change, no rev
        i = payload.find(_REV)
        if i < 0 or not payload.startswith(b'{"type":"'):
            st.bad_frames += 1
            return
        i += len(_REV)
        j = i
        while j < len(payload) and 48 <= payload[j] <= 57:
            j += 1
        rev = int(payload[i:j])
        kind = payload[9 : payload.index(b'"', 9)]
        if kind == b"hello":
            st.hellos += 1
            self.attempt = 0
            if rev < self.last_rev:
                st.resets += 1  # the server is behind us: the page would reset
            return
        if kind == b"reset":
            st.resets += 1
            self.last_rev = rev
            return
        if rev <= self.last_rev:
            st.duplicates += 1
            return
        if rev != self.last_rev + 1:
            st.gaps += 1
        self.last_rev = rev
        reached = st.reached_ns
        if reached.get(rev, 0) < now:
            reached[rev] = now
        st.changed.set()

    def lost(self, sock: StormSocket) -> None:
        if sock is not self.sock:
            return
        self.sock = None
        st = self.stats
        if sock.upgraded:
            st.connects += 1
            st.closes[sock.close_code] = st.closes.get(sock.close_code, 0) + 1
        else:
            st.failed_attempts += 1
        code = sock.close_code if sock.upgraded else 0
        if code == 1012:
            delay = random.uniform(*RESTART_DELAY_S)
        elif code == 4008:
            delay = 0.0
        elif code == 1013:
            delay = RETRY_AFTER_S + random.random()
        else:
            delay = self._backoff()
        self._schedule(delay)

    def _backoff(self) -> float:
        cap = min(MAX_BACKOFF_S, 2.0**self.attempt)
        self.attempt = min(self.attempt + 1, 10)
        return cap / 2 + random.random() * cap / 2

    def _schedule(self, delay: float) -> None:
        if self.stats.stopped:
            return
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self._reopen)

    def _reopen(self) -> None:
        if not self.stats.stopped:
            asyncio.get_running_loop().create_task(self.open())


async def storm_main(cfg: dict[str, Any], reader: asyncio.StreamReader, emit: Any) -> None:
    """Storm mode: open ``count`` followers at ``since``, report ``ready`` once every one
    got its hello; then answer ``await REV TIMEOUT`` with how many hold REV and when the
    last of them got it, and ``exit``."""
    stats = StormStats()
    targets = [Target(**t) for t in cfg["targets"]]
    first = int(cfg.get("first_index", 0))
    count = int(cfg["count"])
    since = int(cfg["since"])
    followers = [Follower(stats, targets[(first + i) % len(targets)], since) for i in range(count)]
    sem = asyncio.Semaphore(int(cfg.get("concurrency", 100)))
    t0 = time.monotonic()

    async def first_open(f: Follower) -> None:
        async with sem:
            if await f.open():
                assert f.sock is not None
                # Refused or timed out: it keeps retrying; "connected" counts hellos.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(f.sock.ready, float(cfg.get("connect_timeout", 60)))

    await asyncio.gather(*(first_open(f) for f in followers))
    emit({"event": "ready", "connected": stats.hellos, "connect_s": time.monotonic() - t0})
    while True:
        line = (await reader.readline()).decode().split()
        if not line or line[0] == "exit":
            break
        if line[0] != "await":
            continue
        rev, wait_s = int(line[1]), float(line[2])
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if all(f.last_rev >= rev for f in followers):
                break
            stats.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stats.changed.wait(), 0.2)
        finals: dict[str, int] = {}
        for f in followers:
            finals[str(f.last_rev)] = finals.get(str(f.last_rev), 0) + 1
        emit(
            {
                "event": "result",
                "readers": count,
                "holding": sum(f.last_rev >= rev for f in followers),
                "last_reached_ns": stats.reached_ns.get(rev, 0),
                "final_revs": finals,
                "closes": {str(k): v for k, v in stats.closes.items()},
                "connects": stats.connects,
                "failed_attempts": stats.failed_attempts,
                "gaps": stats.gaps,
                "duplicates": stats.duplicates,
                "resets": stats.resets,
                "bad_frames": stats.bad_frames,
                "cpu_s": sum(_cpu()),
            }
        )
    stats.stopped = True
    for f in followers:
        if f.sock is not None and f.sock.transport is not None:
            f.sock.transport.close()
    await asyncio.sleep(0.5)  # let connection attempts in flight settle before the loop ends


def main() -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(worker_main())
        return
    uvloop.run(worker_main())


if __name__ == "__main__":
    main()
