"""The Redis client every state function falls back to when the caller passes none."""
from __future__ import annotations

import redis


def conn_or_default(conn: redis.Redis | None) -> redis.Redis:
    """The client a caller passed (a test's, a bench's, the probe), else the project's."""
    if conn is not None:
        return conn
    from ammproject.redis import get_redis

    return get_redis()
