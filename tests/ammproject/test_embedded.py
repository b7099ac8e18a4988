"""The embedded default services (a fresh machine with no DATABASE_URL / REDIS_URL): a
PostgreSQL and a Redis started from pip packages under a data dir, found again by every
later process, and a stale Redis of a deleted data dir never mistaken for this one."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

from ammproject import embedded


@pytest.fixture
def data_dir(monkeypatch):
    """A data dir of its own (not the checkout's .data)."""
    path = Path(tempfile.mkdtemp(prefix="amm-embedded-"))
    path.chmod(0o755)  # as root, pgserver runs postgres as another user
    monkeypatch.setattr(embedded, "DATA_DIR", path / "data")
    yield path / "data"
    shutil.rmtree(path, ignore_errors=True)


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def test_embedded_redis_is_started_once_and_a_stale_one_replaced(data_dir):
    url = embedded.redis_url(db=3)
    first = _client(url)
    try:
        assert url.startswith("unix://") and url.endswith("db=3")
        first.set("k", "v")
        pid = first.info("server")["process_id"]
        assert _client(embedded.redis_url(db=3)).info("server")["process_id"] == pid  # found, not restarted

        shutil.rmtree(data_dir)  # the checkout is deleted and made again at the same path
        second = _client(embedded.redis_url(db=3))
        assert second.info("server")["process_id"] != pid
        assert second.get("k") is None  # not the old state
    finally:
        try:
            _client(url).shutdown(nosave=True)
        except redis.RedisError:  # the server closes the connection as it goes
            pass


def test_embedded_postgres_serves_a_database(data_dir):
    import pgserver

    url = embedded.postgres_url("amm_embedded_test")
    try:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == "amm_embedded_test"
        assert embedded.postgres_url("amm_embedded_test") == url  # found again
    finally:
        server = pgserver.get_server(data_dir / "pg", cleanup_mode=None)
        server.cleanup_mode = "stop"
        server.cleanup()



def test_started_names_only_the_servers_this_process_started(data_dir, monkeypatch):
    """The simulator stops exactly these when it ends: never a server someone else started."""
    monkeypatch.setattr(embedded, "STARTED", {})
    url = embedded.redis_url(db=0)
    try:
        pid = _client(url).info("server")["process_id"]
        assert embedded.STARTED == {"redis": pid} and embedded.started_servers() == {"redis": pid}
        embedded.STARTED.clear()
        embedded.redis_url(db=0)  # found running: not ours to stop
        assert embedded.STARTED == {}
        embedded.STARTED["redis"] = pid + 100_000  # a pid that is not this data dir's server
        assert embedded.started_servers() == {}
    finally:
        try:
            _client(url).shutdown(nosave=True)
        except redis.RedisError:
            pass
