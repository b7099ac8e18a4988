"""The AMM's own Redis clients (settings.REDIS_URL), so that the plugin never imports its host
project: one pooled client per URL, created on first use, and a short-timeout one for health
checks. Every state function takes `conn=None` and falls back to `get_redis()`."""
from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry


@lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)


def get_redis() -> redis.Redis:
    """The AMM's Redis, decoding responses to str. The URL is read at each call (tests give
    each worker its own database), the client is made once per URL."""
    return _client(settings.REDIS_URL)


@lru_cache(maxsize=8)
def _probe_client(url: str, timeout_s: float) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=timeout_s,
                                socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0))


def get_redis_probe(timeout_s: float) -> redis.Redis:
    """The AMM's Redis with short socket timeouts and no retry, for health checks: a Redis that
    hangs must fail the check, not hold the load balancer's probe."""
    return _probe_client(settings.REDIS_URL, float(timeout_s))


def conn_or_default(conn: redis.Redis | None) -> redis.Redis:
    """The client a caller passed (a test's, a bench's, the probe), else the AMM's."""
    return get_redis() if conn is None else conn
