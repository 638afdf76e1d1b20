"""Real service processes for tests and benchmarks: Redis, PostgreSQL and livefeed itself.

Plain classes with no pytest dependency, so ``bench/`` can use them too::

    from tests.support.services import PostgresServer, RedisServer, LivefeedServer

    with RedisServer() as redis, PostgresServer() as pg:
        app = LivefeedServer(
            {"LIVEFEED_REDIS_URL": redis.url, "LIVEFEED_DATABASE_URL": pg.create_database("x")},
            workers=2,
        )
        with app:
            ...  # app.base_url, app.ws_url

Every server binds 127.0.0.1 only, on a free port, with its files in a private temp
directory, and runs in its own process group so that stopping it also stops its children.
A missing program raises :class:`ServiceUnavailable`, whose message says to run
``make services``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import glob
import http.client
import inspect
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

__all__ = [
    "LivefeedServer",
    "PostgresServer",
    "RedisServer",
    "ServiceStartError",
    "ServiceUnavailable",
    "find_postgres_bindir",
    "free_port",
    "wait_until",
    "wait_until_async",
]

T = TypeVar("T")

HOST = "127.0.0.1"
INSTALL_HINT = "run `make services` (as root: bash scripts/install-services.sh)"


class ServiceUnavailable(RuntimeError):
    """A program the tests need is not installed."""


class ServiceStartError(RuntimeError):
    """A service process exited or did not become ready in time."""


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_is_open(port: int, host: str = HOST, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _describe(predicate: Callable[..., Any], message: str | None) -> str:
    if message:
        return message
    name = getattr(predicate, "__qualname__", None) or repr(predicate)
    return f"condition {name}"


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str | None = None,
) -> T:
    """Poll ``predicate()`` until it returns something truthy, and return that.

    Raises :class:`TimeoutError` (naming ``message`` or the predicate) after ``timeout``
    seconds. An exception raised by the predicate propagates at once.
    """
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{_describe(predicate, message)} not met within {timeout:g}s")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


@overload
async def wait_until_async(
    predicate: Callable[[], Awaitable[T]],
    timeout: float = ...,  # noqa: ASYNC109
    interval: float = ...,
    message: str | None = ...,
) -> T: ...


@overload
async def wait_until_async(
    predicate: Callable[[], T],
    timeout: float = ...,  # noqa: ASYNC109
    interval: float = ...,
    message: str | None = ...,
) -> T: ...


async def wait_until_async(
    predicate: Callable[[], Any],
    timeout: float = 10.0,  # noqa: ASYNC109 (same signature as wait_until)
    interval: float = 0.02,
    message: str | None = None,
) -> Any:
    """Like :func:`wait_until`, without blocking the event loop.

    ``predicate`` may be a plain function or a coroutine function.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = interval
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if loop.time() >= deadline:
            raise TimeoutError(f"{_describe(predicate, message)} not met within {timeout:g}s")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _which(name: str, *extra_dirs: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in (*extra_dirs, "/usr/sbin", "/usr/bin", "/sbin"):
        candidate = os.path.join(d, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


# Every LivefeedServer made in this interpreter whose log has not been read to its end, so
# that the test plugin reads every server's log after each test (tests.support.watch),
# however the server was created. Strong references: a server dropped by its test is
# still read once.
_livefeed_servers: list[LivefeedServer] = []


def unread_livefeed_logs() -> list[tuple[LivefeedServer, list[str]]]:
    """Each server with the log lines written since the last call; a stopped server is
    then forgotten (its log has nothing more to say)."""
    with _live_lock:
        servers = list(_livefeed_servers)
    found = []
    for server in servers:
        running = server.is_running
        found.append((server, server.new_log_lines()))
        if not running:
            with _live_lock:
                _livefeed_servers.remove(server)
    return found


# Every live process, so that an interpreter exit (Ctrl-C, a crash in a fixture) still
# stops them: they run in their own process group and would otherwise outlive the tests.
_live: weakref.WeakSet[_Process] = weakref.WeakSet()
_live_lock = threading.Lock()


class _Process:
    """A child process in its own process group, with its output in a log file."""

    name = "process"

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path

    # -- subclasses provide these ----------------------------------------------------
    def _spawn(self, argv: list[str], **kwargs: Any) -> None:
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== {time.strftime('%H:%M:%S')} start: {argv!r}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
                close_fds=True,
                **kwargs,
            )
        with _live_lock:
            _live.add(self)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return _tail(self.log_path, lines)

    def _signal_group(self, sig: int) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def _stop(self, sig: int, timeout: float) -> None:
        """Send ``sig`` to the whole group, wait, then SIGKILL whatever is left."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._signal_group(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                proc.wait(timeout=10)
        # Children (uvicorn workers...) may outlive their parent: take them too.
        self._signal_group(signal.SIGKILL)
        self._proc = None
        with _live_lock:
            _live.discard(self)

    def kill(self) -> None:
        """SIGKILL the process group, as a crash would."""
        self._stop(signal.SIGKILL, timeout=10)

    def _wait_ready(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``ready()``; raise ServiceStartError (with the log tail) if the process
        exits first or ``timeout`` passes, killing it in the latter case."""

        def check() -> bool:
            if self._proc is not None and self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                with _live_lock:
                    _live.discard(self)
                raise ServiceStartError(
                    f"{self.name} exited with code {code} before {what}; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            return ready()

        try:
            wait_until(check, timeout=timeout, message=what)
        except TimeoutError as exc:
            self.kill()
            raise ServiceStartError(
                f"{self.name} did not become ready: {exc}; log {self.log_path}:\n{self.log_tail()}"
            ) from None


def _stop_all_at_exit() -> None:
    with _live_lock:
        procs = list(_live)
    for p in procs:
        with contextlib.suppress(Exception):
            p.kill()


atexit.register(_stop_all_at_exit)


# ---------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------


class RedisServer(_Process):
    """A throw-away ``redis-server`` on 127.0.0.1, without persistence.

    ``stop()``/``kill()`` then ``start()`` brings it back on the same port, so ``url``
    stays valid across a restart.
    """

    name = "redis-server"

    def __init__(self, port: int | None = None, *, binary: str | None = None) -> None:
        super().__init__()
        found = binary or _which("redis-server")
        if not found:
            raise ServiceUnavailable(f"redis-server is not installed; {INSTALL_HINT}")
        self.binary = found
        self.port = port or free_port()
        self.host = HOST
        self.tmpdir = Path(tempfile.mkdtemp(prefix="livefeed-redis-"))
        self.log_path = self.tmpdir / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        if self.is_running:
            return self
        argv = [
            self.binary,
            "--bind", self.host,
            "--port", str(self.port),
            "--dir", str(self.tmpdir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", "",
            "--databases", "16",
            "--maxclients", "10000",
        ]  # fmt: skip
        self._spawn(argv, cwd=self.tmpdir)
        self._wait_ready(self.ping, timeout, f"redis-server answering PING on port {self.port}")
        return self

    def command(self, *args: str, timeout: float = 2.0) -> bytes:
        """Send one command over a fresh connection; return the raw reply line."""
        payload = f"*{len(args)}\r\n".encode()
        for a in args:
            b = a.encode()
            payload += b"$%d\r\n%s\r\n" % (len(b), b)
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            s.sendall(payload)
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data

    def ping(self) -> bool:
        try:
            return self.command("PING", timeout=0.5).startswith(b"+PONG")
        except OSError:
            return False

    def flushall(self) -> None:
        reply = self.command("FLUSHALL")
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"FLUSHALL failed: {reply!r}")

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM); nothing is saved."""
        self._stop(signal.SIGTERM, timeout)

    def restart(self, timeout: float = 10.0) -> RedisServer:
        self.stop()
        return self.start(timeout)

    def close(self) -> None:
        """Stop and delete the temp directory."""
        self.kill()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", Path(path).parent.name))


def find_postgres_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding initdb and postgres.

    ``LIVEFEED_PG_BINDIR`` overrides; otherwise ``initdb`` on PATH is used as a last resort.
    """
    override = os.environ.get("LIVEFEED_PG_BINDIR")
    candidates: list[str] = [override] if override else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for c in candidates:
        d = Path(c)
        if all(os.access(d / exe, os.X_OK) for exe in ("initdb", "postgres")):
            return d
    return None


_db_counter = itertools.count(1)
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresServer(_Process):
    """A throw-away PostgreSQL cluster on 127.0.0.1, trust auth, fsync off.

    initdb/postgres refuse to run as root: as root the cluster belongs to the ``postgres``
    system user (or ``nobody``), and the server is started with that uid directly (no
    su/runuser in between, so signals reach the postmaster).
    """

    name = "postgres"

    def __init__(
        self,
        port: int | None = None,
        *,
        bindir: str | os.PathLike[str] | None = None,
        superuser: str = "postgres",
        settings: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        found = Path(bindir) if bindir else find_postgres_bindir()
        if not found:
            raise ServiceUnavailable(
                "PostgreSQL server binaries (initdb, postgres under /usr/lib/postgresql/*/bin) "
                f"are not installed; {INSTALL_HINT}"
            )
        self.bindir = found
        self.port = port or free_port()
        self.host = HOST
        self.user = superuser
        self.settings = dict(settings or {})
        self.tmpdir = Path(tempfile.mkdtemp(prefix="livefeed-pg-"))
        self.datadir = self.tmpdir / "data"
        self.sockdir = self.tmpdir / "sock"
        self.log_path = self.tmpdir / "postgres.log"
        self._run_as: dict[str, Any] = {}
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self._env.update(LC_ALL="C", LANG="C")
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pw = pwd.getpwnam("nobody")
            self._run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
            self._env.update(HOME=str(self.tmpdir), USER=pw.pw_name, LOGNAME=pw.pw_name)
            os.chown(self.tmpdir, pw.pw_uid, pw.pw_gid)
        self.sockdir.mkdir()
        self.log_path.touch()
        if self._run_as:
            os.chown(self.sockdir, self._run_as["user"], self._run_as["group"])
            os.chown(self.log_path, self._run_as["user"], self._run_as["group"])
        self._initialized = False

    def _initdb(self) -> None:
        argv = [
            str(self.bindir / "initdb"),
            "-D", str(self.datadir),
            "-U", self.user,
            "--auth=trust",
            "-E", "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]  # fmt: skip
        res = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=self._env,
            cwd=self.tmpdir,
            check=False,
            **self._run_as,
        )
        if res.returncode != 0:
            out = (res.stdout + res.stderr).decode(errors="replace")
            raise ServiceStartError(f"initdb failed ({res.returncode}):\n{out}")
        self._initialized = True

    @property
    def dsn(self) -> str:
        """libpq-style URL of the maintenance database ``postgres``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/postgres"

    def url(self, dbname: str, driver: str = "asyncpg") -> str:
        """SQLAlchemy URL for ``dbname`` (``driver=""`` gives a plain libpq URL)."""
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{dbname}"

    def start(self, timeout: float = 30.0) -> PostgresServer:
        if self.is_running:
            return self
        if not self._initialized:
            self._initdb()
        conf = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.sockdir),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
            "shared_buffers": "64MB",
            "dynamic_shared_memory_type": "mmap",
            "max_wal_size": "1GB",
            "log_min_messages": "warning",
            "log_line_prefix": "%m [%p] ",
            "timezone": "UTC",
        }
        conf.update(self.settings)
        argv = [str(self.bindir / "postgres"), "-D", str(self.datadir)]
        for k, v in conf.items():
            argv += ["-c", f"{k}={v}"]
        self._spawn(argv, env=self._env, cwd=self.tmpdir, **self._run_as)
        self._wait_ready(
            self._ready, timeout, f"postgres accepting connections on port {self.port}"
        )
        return self

    def _ready(self) -> bool:
        if not port_is_open(self.port):
            return False
        res = self.psql("SELECT 1", check=False, timeout=5)
        return res.returncode == 0

    def psql(
        self,
        sql: str,
        *,
        dbname: str = "postgres",
        check: bool = True,
        timeout: float = 30,
    ) -> subprocess.CompletedProcess[str]:
        """Run SQL with psql over TCP as the superuser; raise on error when ``check``."""
        psql = self.bindir / "psql"
        if not os.access(psql, os.X_OK):
            psql = Path(_which("psql") or "psql")
        argv = [
            str(psql),
            "-X", "-q", "-A", "-t",
            "-v", "ON_ERROR_STOP=1",
            "-h", self.host,
            "-p", str(self.port),
            "-U", self.user,
            "-d", dbname,
            "-c", sql,
        ]  # fmt: skip
        res = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self._env,
            timeout=timeout,
            check=False,
        )
        if check and res.returncode != 0:
            raise RuntimeError(f"psql {sql!r} failed ({res.returncode}): {res.stderr.strip()}")
        return res

    def create_database(self, name: str | None = None, driver: str = "asyncpg") -> str:
        """Create a new empty database; return its SQLAlchemy URL.

        Without ``name`` a unique one (``lf_<pid>_<n>``) is made up.
        """
        if name is None:
            name = f"lf_{os.getpid()}_{next(_db_counter)}"
        if not _IDENT.match(name):
            raise ValueError(f"database name must match {_IDENT.pattern}: {name!r}")
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name, driver)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected to it."""
        if not _IDENT.match(name):
            raise ValueError(f"bad database name {name!r}")
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT: disconnect clients, checkpoint, exit)."""
        self._stop(signal.SIGINT, timeout)

    def restart(self, timeout: float = 30.0) -> PostgresServer:
        self.stop()
        return self.start(timeout)

    def close(self) -> None:
        """Stop and delete the cluster."""
        self.stop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------
# livefeed
# ---------------------------------------------------------------------------------------


def find_livefeed_executable() -> str | None:
    """The ``livefeed`` console script of the running interpreter's virtualenv."""
    # sys.executable is <venv>/bin/python; do not resolve the symlink (it leaves the venv).
    beside = Path(sys.executable).parent / "livefeed"
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("livefeed")


class LivefeedServer(_Process):
    """``livefeed serve`` as a subprocess, ready once ``GET /healthz`` answers 200.

    ``env`` is added to a copy of this process's environment from which every inherited
    ``LIVEFEED_*`` variable has been removed, so only what a test says reaches the server.
    The working directory is a private temp dir (the default SQLite file lands there), and
    ``LIVEFEED_PUBLIC_URL`` defaults to ``base_url``.
    """

    name = "livefeed"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        port: int | None = None,
        workers: int | None = None,
        executable: str | os.PathLike[str] | None = None,
        args: Iterable[str] = (),
        cwd: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        super().__init__()
        exe = str(executable) if executable else find_livefeed_executable()
        if not exe:
            raise ServiceUnavailable(
                "the `livefeed` console script is not installed in this virtualenv; "
                "run `make test` (or `pip install -e '.[dev]'`)"
            )
        self.executable = exe
        self.host = HOST
        self.port = port or free_port()
        self.workers = workers
        self.extra_args = list(args)
        self.startup_timeout = startup_timeout
        self.tmpdir = Path(tempfile.mkdtemp(prefix="livefeed-app-"))
        self.cwd = Path(cwd) if cwd else self.tmpdir
        self.log_path = self.tmpdir / "livefeed.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEFEED_")}
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env["LIVEFEED_PUBLIC_URL"] = self.base_url
        self.env.update(env or {})
        self._log_snapshot: str | None = None  # the log, kept once the temp dir is deleted
        self._log_checked = 0  # characters of the log already handed out by new_log_lines()
        with _live_lock:
            _livefeed_servers.append(self)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def admin_token(self) -> str | None:
        """``LIVEFEED_ADMIN_TOKEN`` as given in ``env`` (None: the server generates one)."""
        return self.env.get("LIVEFEED_ADMIN_TOKEN")

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    @property
    def argv(self) -> list[str]:
        argv = [self.executable, "serve", "--host", self.host, "--port", str(self.port)]
        if self.workers is not None:
            argv += ["--workers", str(self.workers)]
        return argv + self.extra_args

    def healthy(self) -> bool:
        """True when ``GET /healthz`` answers 200 right now."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def start(self, timeout: float | None = None) -> LivefeedServer:
        if self.is_running:
            return self
        timeout = self.startup_timeout if timeout is None else timeout
        with _live_lock:  # read again after each test, even if it was forgotten once stopped
            if self not in _livefeed_servers:
                _livefeed_servers.append(self)
        self._spawn(self.argv, env=self.env, cwd=self.cwd)
        self._wait_ready(self.healthy, timeout, f"GET {self.base_url}/healthz answering 200")
        return self

    def terminate(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group (graceful shutdown) and wait; SIGKILL after timeout."""
        self._stop(signal.SIGTERM, timeout)

    stop = terminate

    def restart(self, timeout: float | None = None) -> LivefeedServer:
        """Graceful stop, then start again on the same port."""
        self.terminate()
        return self.start(timeout)

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        """Wait until ``text`` appears in the log."""
        wait_until(lambda: text in self.log_text(), timeout, message=f"{text!r} in the log")

    def log_text(self) -> str:
        if self._log_snapshot is not None:
            return self._log_snapshot
        return super().log_text()

    def new_log_lines(self) -> list[str]:
        """The complete log lines written since the previous call (all of them the first
        time); a last line without its newline waits unless the process is gone."""
        text = self.log_text()
        chunk = text[self._log_checked :]
        if self.is_running and not chunk.endswith("\n"):
            chunk = chunk[: chunk.rfind("\n") + 1]
        self._log_checked += len(chunk)
        return chunk.splitlines()

    def remove_files(self) -> None:
        """Delete the temp directory; the log stays readable through :meth:`log_text`."""
        if self._log_snapshot is None:
            self._log_snapshot = super().log_text()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def close(self) -> None:
        self.terminate()
        self.remove_files()

    def __enter__(self) -> LivefeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
