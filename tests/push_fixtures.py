"""Fixtures for the push feeds (docs/push.md): the outbox relay as a real process
(`manage.py exchange_relay`) against the live test server's database, a private
redis-server to restart, and readers of the event streams.

    def test_x(outbox_relay, redis_conn): ...            # a relay on the test's Redis database
    def test_y(relay_factory, spare_redis):                # a relay on a Redis the test may kill
        relay = relay_factory(redis_url=spare_redis.url, batch=5).start()

Registered for every test by tests/conftest.py (pytest_plugins)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
SPARE_REDIS_PORTS = range(6401, 6410)  # the range the machine's notes give the push work
STREAM_FIELDS = {"event_id", "type", "market_id", "sequence_id", "ts_ms", "data"}


def wait_for(predicate: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.05, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message or predicate}")
        time.sleep(interval)


def read_stream(client: redis.Redis, stream: str) -> list[dict]:
    """Every entry of `stream`, oldest first, `data` decoded (the raw fields under `fields`)."""
    entries = []
    for entry_id, fields in client.xrange(stream):
        fields = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
                  for k, v in fields.items()}
        entries.append({**fields, "entry_id": entry_id, "fields": fields, "data": json.loads(fields["data"])})
    return entries


def event_ids(client: redis.Redis, *streams: str) -> set[int]:
    return {int(e["event_id"]) for stream in streams for e in read_stream(client, stream)}


class RelayProcess:
    """`manage.py exchange_relay` as a subprocess; its output in a log file."""

    def __init__(self, env: dict[str, str], args: list[str]) -> None:
        self.env, self.args = env, args
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="exchange_relay-", suffix=".log", delete=False)

    def start(self) -> RelayProcess:
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "exchange_relay", *self.args],
                                     cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, and the exit code (it must exit by itself)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the relay ignored SIGTERM for {timeout} s:\n{self.output()}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class RedisServer:
    """A redis-server of the test's own, without persistence: `restart()` brings it back empty."""

    def __init__(self, port: int, workdir: str) -> None:
        self.port, self.workdir = port, workdir
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_for(lambda: _pings(client), timeout=10, message=f"redis-server on {self.port}")
        client.close()
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        self.kill()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _free_port(ports) -> int:
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")


@pytest.fixture
def spare_redis(tmp_path):
    server = RedisServer(_free_port(SPARE_REDIS_PORTS), str(tmp_path)).start()
    yield server
    server.kill()


@pytest.fixture
def relay_factory(live_server):
    """relay_factory(redis_url=None, batch=None, poll_ms=None, **settings) -> an unstarted
    RelayProcess on the live test server's database (settings: EXCHANGE_* overrides, by
    environment). Every relay still running at the end is stopped, and must stop cleanly."""
    from django.conf import settings

    from tests.amm.runtime.support import subprocess_database_url  # imports the AMM: once Django is set up

    relays: list[RelayProcess] = []

    def make(*, redis_url: str | None = None, batch: int | None = None, poll_ms: int | None = None,
             **overrides: Any) -> RelayProcess:
        env = {**os.environ, "DATABASE_URL": subprocess_database_url(), "REDIS_URL": redis_url or settings.REDIS_URL,
               "PYTHONUNBUFFERED": "1", "DEBUG": "false", **{k: str(v) for k, v in overrides.items()}}
        args = [*(["--batch", str(batch)] if batch else []), *(["--poll-ms", str(poll_ms)] if poll_ms else [])]
        relay = RelayProcess(env, args)
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        relay.stop()


@pytest.fixture
def outbox_relay(relay_factory, redis_conn) -> RelayProcess:
    """A running relay publishing to the test's Redis database (`redis_conn`, flushed)."""
    return relay_factory().start()
