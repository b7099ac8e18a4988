"""The push feeds' server as a real process, for any test that needs the WebSocket feeds.

- `AsgiServer`: `gunicorn -c ammproject/gunicorn_asgi.conf.py` (the production command:
  uvicorn workers serving ammproject.asgi, HTTP and `ws/v1/...`) on a free port, pointed at
  the pytest-django test database and this worker's Redis. Tests must commit what the server
  should see: `@pytest.mark.django_db(transaction=True)`.
- `asgi_server` (fixture): one started for the test, stopped after it.
- `killable_redis` (fixture): a redis-server of the test's own, to restart (a server or relay
  pointed at its `url`).
- `FrameDropProxy`: a TCP proxy between a WebSocket client and the server that drops chosen
  server-to-client text frames (e.g. the second DELTA), to show gap detection and healing.
  Clients through it must not negotiate compression (`compression=None`).

Use: `from tests.ws_fixtures import asgi_server  # noqa: F401` in a test module or conftest.
"""
from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
from typing import Callable

import pytest

from tests.amm.runtime.harness import ROOT, _redis_url, _Subprocess, free_port, test_database_url
from tests.push_fixtures import RedisServer

KILLABLE_REDIS_PORTS = range(6411, 6420)  # the push-feed server's tests' own (tests/push_fixtures.py has 6401-6409)


class AsgiServer(_Subprocess):
    name = "asgi"

    def __init__(self, *, workers: int = 1, database_url: str | None = None, redis_url: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        super().__init__()
        self.port = free_port()
        self.workers = workers
        self.database_url = database_url or test_database_url()
        self.redis_url = redis_url or _redis_url()
        self.extra_env = env or {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 30.0) -> "AsgiServer":
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "ASGI_BIND": f"127.0.0.1:{self.port}",
            "ASGI_WORKERS": str(self.workers),
            "GUNICORN_LOG_LEVEL": "warning",
            "EXCHANGE_REPLACE_RATE_LIMIT": str(10**9),
            "DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        self._spawn([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "ammproject" / "gunicorn_asgi.conf.py")], env)
        return self.wait_for_http(label="the ASGI server", timeout=timeout)


@pytest.fixture
def asgi_server(transactional_db):
    server = AsgiServer().start()
    try:
        yield server
    finally:
        server.stop()
        server.cleanup()


@pytest.fixture
def killable_redis(tmp_path):
    """A redis-server of the test's own (no persistence) that it may restart or kill."""
    for port in KILLABLE_REDIS_PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        server = RedisServer(port, str(tmp_path)).start()
        break
    else:
        raise RuntimeError(f"no free port in {KILLABLE_REDIS_PORTS}")
    yield server
    server.kill()


# --- a WebSocket-aware proxy that loses chosen frames ---------------------------------------
class FrameDropProxy:
    """Forwards TCP both ways; after the handshake, parses the server's frames and drops the
    text frames `drop(text)` says to (called once per text frame, in order)."""

    def __init__(self, upstream_port: int, drop: Callable[[str], bool]) -> None:
        self.upstream_port, self.drop = upstream_port, drop
        self.port = free_port()
        self.dropped: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="frame-drop-proxy")

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> "FrameDropProxy":
        self._thread.start()
        self._ready.wait(5)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        await asyncio.gather(self._pipe(reader, up_writer), self._frames(up_reader, writer), return_exceptions=True)
        for w in (writer, up_writer):
            w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _frames(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readuntil(b"\r\n\r\n"))  # the handshake's answer
        while True:
            head = await reader.readexactly(2)
            length = head[1] & 0x7F
            extended = b""
            if length == 126:
                extended = await reader.readexactly(2)
                length = int.from_bytes(extended, "big")
            elif length == 127:
                extended = await reader.readexactly(8)
                length = int.from_bytes(extended, "big")
            mask = await reader.readexactly(4) if head[1] & 0x80 else b""
            payload = await reader.readexactly(length)
            if head[0] & 0x0F == 0x1 and not mask:  # a server text frame (servers never mask)
                text = payload.decode()
                if self.drop(text):
                    self.dropped.append(text)
                    continue
            writer.write(head + extended + mask + payload)
            await writer.drain()
