"""Shared fixtures: real PostgreSQL (pytest-django test database) and real Redis.

Each xdist worker gets its own Redis logical database, flushed before each test that asks
for Redis, so parallel workers never see each other's keys.
"""
from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.push_fixtures"]  # the outbox relay as a process, a spare Redis, stream readers


def _worker_redis_db() -> int:
    """15 for a run without workers, 14, 13, ... for xdist workers; TEST_REDIS_DB_BASE moves
    the range so that two test runs on one Redis never share a database (the test database
    names follow DATABASE_URL's database name the same way)."""
    base = int(os.environ.get("TEST_REDIS_DB_BASE", "15"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = worker.removeprefix("gw")
    return base - 1 - int(index) if index.isdigit() else base


def pytest_configure(config):
    from django.conf import settings

    from ammproject.redis import url_with_db

    url = url_with_db(settings.REDIS_URL, _worker_redis_db())
    settings.REDIS_URL = url
    for queue in settings.RQ_QUEUES.values():
        queue["URL"] = url
    os.environ["REDIS_URL"] = url  # for subprocesses a test starts


@pytest.fixture
def redis_conn():
    from ammproject.redis import get_redis

    conn = get_redis()
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture(autouse=True)
def _system_rows(request):
    """Transactional tests flush the database (and with it the rows migrations seeded);
    put the platform's system users back before every database test, whether it asked for
    the database by mark or by fixture (`db`, `transactional_db`)."""
    db_fixture = next((name for name in ("transactional_db", "db") if name in request.fixturenames), None)
    if request.node.get_closest_marker("django_db") is not None or db_fixture:
        from exchange.services.bootstrap import system_users_ensure

        if db_fixture:  # asked for as a fixture, not a mark: have the database first
            request.getfixturevalue(db_fixture)
        system_users_ensure()
    yield
