"""`amm:lease:{resource}`: a token with a TTL, so that one holder at a time works on a
resource: "market:{m}" (one market's cycles never overlap), "feed", "scheduler". Renew and
release are Lua scripts that act only for the token's holder."""
from __future__ import annotations

import redis

import amm.state.keys as K
from amm.state.connection import conn_or_default
from amm.state.lua import script


def lease_acquire(resource: str, token: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> bool:
    return bool(conn_or_default(conn).set(K.lease_key(resource), token, nx=True, px=int(ttl_ms)))


def lease_steal(resource: str, token: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> str | None:
    """Take the lease whoever holds it (the old holder's renew and release then fail);
    returns the previous holder's token."""
    return conn_or_default(conn).set(K.lease_key(resource), token, px=int(ttl_ms), get=True)


def lease_renew(resource: str, token: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> bool:
    return bool(script(conn_or_default(conn), "lease_renew")(keys=[K.lease_key(resource)], args=[token, int(ttl_ms)]))


def lease_release(resource: str, token: str, *, conn: redis.Redis | None = None) -> bool:
    return bool(script(conn_or_default(conn), "lease_release")(keys=[K.lease_key(resource)], args=[token]))


def lease_holder(resource: str, *, conn: redis.Redis | None = None) -> str | None:
    return conn_or_default(conn).get(K.lease_key(resource))
