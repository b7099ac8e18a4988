"""Is the AMM healthy? (SPEC §9: the monitoring API's health answers 503 when a dependency is
down.) A read, like the audit reports: it asks the database, Redis and the platform.

Checks, each ok or failing with a detail:
- `database`: the running instances and their requote intervals (one query).
- `redis`: the heartbeats (one round trip, short socket timeouts).
- `platform`: the connector's cheapest authenticated call (the AMM's balance), one attempt,
  AMM_HEALTH_TIMEOUT_MS.
- `quote_loops`: every RUNNING market requoted within 3 requote intervals (counted from its
  last requote, or from its last change of state when that is later: a market just resumed
  has not quoted yet).
- `fill_feed`: while a market is RUNNING, the feed's last answered poll is younger than
  AMM_HEALTH_FEED_STALE_MS (the feed writes its heartbeat once per window).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError

from amm import state
from amm.conf import amm_settings
from amm.connector import ConnectorError, connector_from_settings
from amm.enums import AMMLifecycleState as L
from amm.models import AMMInstance

STALE_INTERVALS = 3  # a RUNNING market is stale after this many requote intervals without a requote
DEFAULT_REQUOTE_INTERVAL_MS = 1000
CHECKS = ("database", "redis", "platform", "quote_loops", "fill_feed")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def _timeout_s() -> float:
    return amm_settings.AMM_HEALTH_TIMEOUT_MS / 1000


def _elapsed_ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


def _running() -> list[tuple[str, int, int]]:
    """(market_id, requote interval ms, last change of the instance in ms) of RUNNING markets."""
    rows = (AMMInstance.objects.filter(lifecycle_state=L.RUNNING.value).order_by("market_id")
            .values_list("market_id", "config__requote_interval_ms", "updated_at"))
    return [(m, int(interval or DEFAULT_REQUOTE_INTERVAL_MS), int(changed.timestamp() * 1000))
            for m, interval, changed in rows]


def _platform_check() -> Check:
    start = time.monotonic()
    timeout = _timeout_s()
    try:
        with connector_from_settings(timeout_s=timeout, connect_timeout_s=timeout, max_attempts=1,
                                     headers={"Connection": "close"}) as connector:
            connector.balance_get()
    except ConnectorError as exc:
        return Check("platform", False, f"{amm_settings.AMM_PLATFORM_BASE_URL}: {exc}", {"ms": _elapsed_ms(start)})
    return Check("platform", True, amm_settings.AMM_PLATFORM_BASE_URL, {"ms": _elapsed_ms(start)})


def _loops_check(running: list[tuple[str, int, int]], read: state.HealthRead) -> Check:
    stale = []
    for market_id, interval, changed_ms in running:
        last = read.last_requote_ms.get(market_id) or 0
        limit = STALE_INTERVALS * interval
        age = read.read_at_ms - max(last, changed_ms)
        if age > limit:
            stale.append({"market_id": market_id, "last_requote_ms": last or None,
                          "age_ms": age, "limit_ms": limit})
    data = {"running": len(running), "stale": stale}
    if stale:
        names = ", ".join(s["market_id"] for s in stale[:10]) + (" ..." if len(stale) > 10 else "")
        return Check("quote_loops", False, f"{len(stale)} of {len(running)} RUNNING markets stale: {names}", data)
    return Check("quote_loops", True, f"{len(running)} RUNNING markets requoting", data)


def _feed_check(running: list, read: state.HealthRead) -> Check:
    if not running:
        return Check("fill_feed", True, "no market RUNNING: no feed expected", {"feed_ms": read.run.get("feed_ms")})
    limit = amm_settings.AMM_HEALTH_FEED_STALE_MS
    last = int(read.run.get("feed_ms") or 0)
    age = read.read_at_ms - last if last else None
    data = {"feed_ms": last or None, "age_ms": age, "limit_ms": limit}
    if age is None:
        return Check("fill_feed", False, "the fill feed never answered", data)
    if age > limit:
        return Check("fill_feed", False, f"the fill feed last answered {age} ms ago", data)
    return Check("fill_feed", True, f"last answered {age} ms ago", data)


def health_check() -> Health:
    """Every check of the module docstring, in CHECKS order."""
    start = time.monotonic()
    try:
        running = _running()
    except DatabaseError as exc:
        database = Check("database", False, f"{exc.__class__.__name__}: {exc}".strip())
        running = None
    else:
        database = Check("database", True, "", {"ms": _elapsed_ms(start)})

    start = time.monotonic()
    try:
        read = state.health_read([m for m, _, _ in running or []], conn=_probe())
    except Exception as exc:  # noqa: BLE001 - any failure to read Redis fails the check
        redis_check = Check("redis", False, f"{exc.__class__.__name__}: {exc}")
        read = None
    else:
        redis_check = Check("redis", True, "", {"ms": _elapsed_ms(start)})

    if running is None or read is None:
        why = "database unavailable" if running is None else "redis unavailable"
        loops, feed = Check("quote_loops", False, why), Check("fill_feed", False, why)
    else:
        loops, feed = _loops_check(running, read), _feed_check(running, read)
    return Health([database, redis_check, _platform_check(), loops, feed])


def _probe():
    return state.get_redis_probe(_timeout_s())
