"""Reconciliation every 5 minutes (seed §7.3, SPEC §8): Redis vs the platform, recorded.

Tolerances (amm.constants): 2 shares, 200 cents cash, 500 cents cost. All zero -> OK; within
tolerance -> warning log, verdict WARNING; beyond, or live AMM orders Redis does not track
("forgotten"), or no inventory at all -> alert INVENTORY_DRIFT_CRITICAL (and ORDERS_FORGOTTEN),
rebuild from the platform (market_sync), verdict CRITICAL. Tracked orders the platform no
longer has open (passive cancels, fills the feed has not brought yet) are released first.

Cash: `cash` is the seed's |available_balance − cash_cents|; `cash_total` compares
available + frozen with cash_cents + what tracked BUY orders hold, which a concurrent
placement cannot skew. The verdict uses `cash` when the account was quiet while the
snapshot was taken, else `cash_total`.

Run it in the market's own lane (not concurrently with that market's quote cycle); orders
younger than RECENT_ORDER_MS are still left alone, in case an answer is in flight, and while
Redis and the platform disagree on such an order the available shares and the cash (which its
reservation moves on one side only) are recorded, not judged.
"""
from __future__ import annotations

import logging

from django.utils import timezone

from amm import state
from amm.bookkeeping import FillFeed, SyncError
from amm.bookkeeping.snapshot import PlatformSnapshot, platform_snapshot
from amm.connector import ConnectorError, PlatformClient
from amm.constants import RECON_CASH_TOLERANCE_CENTS, RECON_COST_TOLERANCE_CENTS, RECON_VOLUME_TOLERANCE
from amm.models import AlertSeverity, AlertType, ReconciliationRun, ReconciliationVerdict
from amm.alerts import alert_raise
from amm.services.market_startup import market_startup_sync

log = logging.getLogger(__name__)

RECENT_ORDER_MS = 5_000
VOLUME_FIELDS = ("yes_volume", "no_volume", "yes_available", "no_available")
AVAILABLE_FIELDS = ("yes_available", "no_available")  # moved by an order's reservation, not only by fills
COST_FIELDS = ("yes_cost_sum", "no_cost_sum")


def _redis_figures(inv, cash_view: tuple[int | None, int]) -> dict[str, int]:
    cash, held = cash_view
    return {
        "yes_volume": inv.yes_volume, "no_volume": inv.no_volume, "yes_available": inv.yes_available,
        "no_available": inv.no_available, "yes_cost_sum": inv.yes_cost_sum_cents, "no_cost_sum": inv.no_cost_sum_cents,
        "cash": cash or 0, "held": held,
    }


def _redis_now(market_id: str) -> dict[str, int]:
    return _redis_figures(state.inventory_get(market_id), state.cash_view(market_id))


def _diffs(snap: PlatformSnapshot, redis_view: dict[str, int]) -> dict[str, int]:
    pos, bal, r = snap.position, snap.balance, redis_view
    return {
        "yes_volume": abs(pos.yes_volume - r["yes_volume"]),
        "no_volume": abs(pos.no_volume - r["no_volume"]),
        "yes_available": abs(pos.yes_available - r["yes_available"]),
        "no_available": abs(pos.no_available - r["no_available"]),
        "yes_cost_sum": abs(pos.yes_cost_sum - r["yes_cost_sum"]),
        "no_cost_sum": abs(pos.no_cost_sum - r["no_cost_sum"]),
        "cash": abs(bal.available_balance - r["cash"]),
        "cash_total": abs(bal.total_cents - (r["cash"] + r["held"])),
    }


def reconcile_market(
    *, market_id: str, connector: PlatformClient, feed: FillFeed | None = None, attempts: int = 3,
    grace_ms: int = RECENT_ORDER_MS, trigger: str = "periodic",
) -> ReconciliationRun:
    """Compare one market's Redis state with the platform, repair if needed, record the run
    with what triggered it. Orders younger than `grace_ms` are not judged (their REST answer
    may be in flight)."""
    started_at = timezone.now()
    feed = feed or FillFeed(connector=connector)
    privileged_before = bool(state.privileged_pending())
    try:
        snap = platform_snapshot(market_id=market_id, connector=connector, feed=feed, attempts=attempts)
    except ConnectorError as exc:
        log.error("reconciliation of %s could not read the platform: %s", market_id, exc)
        return ReconciliationRun.objects.create(
            market_id=market_id, started_at=started_at, finished_at=timezone.now(), diffs={"trigger": trigger},
            verdict=ReconciliationVerdict.WARNING, rebuilt=False, detail=f"platform unavailable: {exc}")

    existed = state.inventory_get(market_id).exists
    state.market_meta_write(market_id, {"status": snap.market.status, "reserve_balance": snap.market.reserve_balance,
                                        "total_yes_shares": snap.market.total_yes_shares,
                                        "total_no_shares": snap.market.total_no_shares})
    recent = snap.started_ms - grace_ms
    tracked = state.orders_get(market_id)
    open_orders = {o.id: o for o in snap.orders}
    stale = [oid for oid, o in tracked.items() if oid not in open_orders and o.created_ms < recent]
    # Redis is compared as it was inside the snapshot's quiet window (a fill of any market
    # applied since would read as drift: the cash is the account's), moved by what releasing
    # the stale orders just moved (their held cash and pending sells).
    redis_view = (_redis_figures(snap.redis_inventory, snap.redis_cash) if snap.redis_inventory is not None
                  and snap.redis_cash is not None else _redis_now(market_id))
    if stale:
        before = _redis_now(market_id)
        state.orders_untrack(market_id, stale, event="CANCELLED")
        after = _redis_now(market_id)
        redis_view = {name: value + after[name] - before[name] for name, value in redis_view.items()}
        log.warning("reconciliation %s: released %d orders no longer open on the platform: %s",
                    market_id, len(stale), stale)
    forgotten = [oid for oid, o in open_orders.items() if oid not in tracked and (o.created_ms or 0) < recent]
    # Orders of the grace period on which Redis and the platform disagree (an answer in flight or
    # lost, a resync not yet run): their reservations (shares of a sell, cash of a buy) are on one
    # side only, so available shares and cash are not judged this run; the next one does.
    in_flight = [oid for oid, o in open_orders.items() if oid not in tracked and (o.created_ms or 0) >= recent]
    in_flight += [oid for oid, o in tracked.items() if oid not in open_orders and o.created_ms >= recent]
    mismatched = {oid: [tracked[oid].remaining, o.remaining_quantity] for oid, o in open_orders.items()
                  if oid in tracked and tracked[oid].remaining != o.remaining_quantity}
    state.untracked_fills_prune(market_id, keep=open_orders)

    diffs = _diffs(snap, redis_view)
    # The account's cash is shared by every market: a mint/burn of any market in flight
    # (its money moved on the platform, its answer not yet in Redis) or applied between the
    # balance read and Redis's makes the two figures of different moments. The cash is then
    # not judged this run (the next one will); the rebuild path has the same guard.
    cash_comparable = not (privileged_before or state.privileged_pending()
                           or state.cash_epoch() != snap.cash_epoch or in_flight)
    cash_judged = (diffs["cash"] if snap.account_quiet else diffs["cash_total"]) if cash_comparable else 0
    judged = VOLUME_FIELDS if not in_flight else tuple(f for f in VOLUME_FIELDS if f not in AVAILABLE_FIELDS)
    beyond = [name for name in judged if diffs[name] > RECON_VOLUME_TOLERANCE]
    beyond += [name for name in COST_FIELDS if diffs[name] > RECON_COST_TOLERANCE_CENTS]
    if cash_judged > RECON_CASH_TOLERANCE_CENTS:
        beyond.append("cash" if snap.account_quiet else "cash_total")
    record = {
        "trigger": trigger, **diffs, "beyond_tolerance": beyond, "orders_stale": stale, "orders_forgotten": forgotten,
        "orders_in_flight": in_flight, "orders_remaining_mismatch": mismatched, "trades_quiet": snap.trades_quiet,
        "account_quiet": snap.account_quiet, "cash_comparable": cash_comparable, "cursor": snap.cursor,
        "inventory_existed": existed,
    }
    critical = bool(beyond or forgotten or not existed)
    rebuilt, detail = False, ""
    if critical:
        verdict = ReconciliationVerdict.CRITICAL
        if existed:
            alert_raise(type=AlertType.INVENTORY_DRIFT_CRITICAL, severity=AlertSeverity.CRITICAL,
                        market_id=market_id, payload={"diffs": diffs, "beyond_tolerance": beyond,
                                                      "orders_forgotten": forgotten})
        if forgotten:
            alert_raise(type=AlertType.ORDERS_FORGOTTEN, severity=AlertSeverity.CRITICAL, market_id=market_id,
                        payload={"order_ids": forgotten})
        try:
            result = market_startup_sync(market_id=market_id, connector=connector, feed=feed)
            rebuilt = True
            detail = f"rebuilt from the platform (cursor {result.snapshot.cursor})"
        except (SyncError, ConnectorError) as exc:
            detail = f"rebuild failed: {exc}"
            log.error("reconciliation %s: %s", market_id, detail)
    elif any(diffs[name] for name in (*VOLUME_FIELDS, *COST_FIELDS)) or cash_judged or mismatched or stale:
        verdict = ReconciliationVerdict.WARNING
        log.warning("Minor inventory drift detected in %s: %s", market_id, record)
    else:
        verdict = ReconciliationVerdict.OK
    run = ReconciliationRun.objects.create(
        market_id=market_id, started_at=started_at, finished_at=timezone.now(), diffs=record, verdict=verdict,
        rebuilt=rebuilt, detail=detail,
    )
    log.info("reconciliation %s: %s%s", market_id, verdict, " (rebuilt)" if rebuilt else "")
    return run
