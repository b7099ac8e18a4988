"""Wake-ups for the trade feed's long poll (`GET /api/v1/trades?since=&wait_ms=`).

An extension of SPEC §3.6's polled fill feed: a caller that finds no trade after its cursor
may ask the platform to hold the answer up to `wait_ms` until one of its trades commits.
Every committed operation that wrote trades announces its users on Redis pub/sub (after
commit, so a woken reader always sees the rows); a waiting request subscribes to its
user's channel before looking again, so no commit between its look and its wait is missed.
Announcements are only hints: a reader that misses one still answers at `wait_ms`, and a
platform without Redis serves the feed as plain polling.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Iterable, TypeVar

from django.db import transaction

from ammproject.redis import get_redis

log = logging.getLogger(__name__)

MAX_WAIT_MS = 5_000
T = TypeVar("T")


def _channel(user_id: str) -> str:
    db = get_redis().connection_pool.connection_kwargs.get("db", 0)  # channels are server-wide
    return f"exchange:{db}:trades:{user_id}"


def trades_announce_on_commit(user_ids: Iterable[str]) -> None:
    """After the current transaction commits, wake the users' waiting trade feeds."""
    users = sorted(set(user_ids))
    transaction.on_commit(lambda: _announce(users))


def _announce(user_ids: list[str]) -> None:
    try:
        pipe = get_redis().pipeline(transaction=False)
        for user_id in user_ids:
            pipe.publish(_channel(user_id), "1")
        pipe.execute()
    except Exception:  # noqa: BLE001 - a lost hint only delays a waiting reader to its wait_ms
        log.warning("trade feed wake-up not published", exc_info=True)


def trades_wait(*, user_id: str, wait_ms: int, look: Callable[[], T], found: Callable[[T], bool]) -> T:
    """`look()` again until `found(result)` or `wait_ms` has passed, waking on the user's
    announcements; the last result."""
    deadline = time.monotonic() + min(max(0, wait_ms), MAX_WAIT_MS) / 1000
    try:
        pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(_channel(user_id))
    except Exception:  # noqa: BLE001 - no Redis: answer now, the caller polls
        log.warning("trade feed wait unavailable", exc_info=True)
        return look()
    try:
        result = look()  # subscribed first: a commit from here on wakes the wait below
        while not found(result):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            pubsub.get_message(timeout=remaining)  # a wake-up, or the deadline: look again either way
            result = look()
        return result
    finally:
        pubsub.close()
