"""Redis connections for the project: one pooled client per URL, created on first use."""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry


@lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)


def get_redis() -> redis.Redis:
    """The project's Redis (settings.REDIS_URL), decoding responses to str."""
    return _client(settings.REDIS_URL)


@lru_cache(maxsize=8)
def _probe_client(url: str, timeout_s: float) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=timeout_s,
                                socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0))


def get_redis_probe(timeout_s: float) -> redis.Redis:
    """The project's Redis with short socket timeouts, for health checks: a Redis that hangs
    must fail the check, not hold the load balancer's probe."""
    return _probe_client(settings.REDIS_URL, float(timeout_s))


def url_with_db(url: str, db: int) -> str:
    """The same server with another logical database (tests give each worker its own)."""
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        query = parse_qs(parsed.query)
        query["db"] = [str(db)]
        # urlunparse drops the empty authority of unix:///path; redis-py needs it back
        return f"unix://{parsed.netloc}{parsed.path}?{urlencode(query, doseq=True)}"
    return urlunparse(parsed._replace(path=f"/{db}"))
