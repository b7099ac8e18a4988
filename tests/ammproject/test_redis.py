"""Redis URLs of the project: another logical database of the same server, TCP or unix socket."""
from __future__ import annotations

import redis

from ammproject.redis import url_with_db


def test_another_logical_database_of_the_same_server():
    assert url_with_db("unix:///tmp/amm-redis-x.sock?db=0", 13) == "unix:///tmp/amm-redis-x.sock?db=13"
    assert url_with_db("redis://127.0.0.1:6379/0", 13) == "redis://127.0.0.1:6379/13"
    assert redis.Redis.from_url(url_with_db("unix:///tmp/s.sock?db=0", 4)).connection_pool.connection_kwargs["db"] == 4
