"""`amm:lease:{resource}`: a token with a TTL, so that one holder at a time works on a
resource: "market:{m}" (one market's cycles never overlap), "feed", "scheduler". Acquire,
steal, renew and release are Lua scripts; renew and release act only for the token's holder.

Every acquisition (and steal) also gets a fencing token from `amm:fence` (one counter for
every resource), strictly greater than every earlier one: the platform refuses an order call carrying a
lower one than it has seen (issue 15), so a holder that lost its lease without knowing it
cannot act after its successor has."""
from __future__ import annotations

from typing import NamedTuple

import redis

import amm.state.keys as K
from amm.state.connection import conn_or_default
from amm.state.lua import script


class Acquired(NamedTuple):
    fencing_token: int
    previous: str | None  # the previous holder's token (a steal), None when the lease was free


def _acquire(resource: str, token: str, ttl_ms: int, steal: bool, conn: redis.Redis | None) -> Acquired | None:
    got = script(conn_or_default(conn), "lease_acquire")(keys=[K.lease_key(resource), K.FENCE,
                                                                K.legacy_fence_key(resource)],
                                                          args=[token, int(ttl_ms), int(steal)])
    if got is None:
        return None
    return Acquired(int(got[0]), got[1] or None)


def lease_acquire(resource: str, token: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> int | None:
    """Take the lease when it is free: its fencing token, else None."""
    got = _acquire(resource, token, ttl_ms, False, conn)
    return got.fencing_token if got else None


def lease_steal(resource: str, token: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> Acquired:
    """Take the lease whoever holds it (the old holder's renew and release then fail, and its
    order calls carry a lower fencing token)."""
    return _acquire(resource, token, ttl_ms, True, conn)


def lease_renew(resource: str, token: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> bool:
    return bool(script(conn_or_default(conn), "lease_renew")(keys=[K.lease_key(resource)], args=[token, int(ttl_ms)]))


def lease_release(resource: str, token: str, *, conn: redis.Redis | None = None) -> bool:
    return bool(script(conn_or_default(conn), "lease_release")(keys=[K.lease_key(resource)], args=[token]))


def lease_holder(resource: str, *, conn: redis.Redis | None = None) -> str | None:
    return conn_or_default(conn).get(K.lease_key(resource))
