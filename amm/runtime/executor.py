"""The executor: platform calls a quote cycle makes, each followed by its bookkeeping
(STYLE: the strategy decides, the executor acts). Every function runs under the market's
lease; what the platform answered goes to Redis through amm.bookkeeping.

A timeout or 5xx on an order call is an unknown outcome (SPEC §7): the market is marked
for re-sync and its next cycles ask the platform for its open orders before quoting, for
AMM_UNKNOWN_GRACE_MS from when the outcome became unknown, so a call that lands late is
adopted, never left unknown. Every order call leaves a trace in Redis while it is on its
way (`order_call`): a holder that dies before recording the answer leaves it behind, and
the next cycle treats it as an unknown outcome too (`orphaned_calls_adopt`).

Every order call is sent under the market's lease that this thread holds (`held_fence`):
with its fencing token, and not at all once the lease lapsed by this process's clock
(issue 15; `Fenced`).
"""
from __future__ import annotations

import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from amm import state
from amm.bookkeeping import (
    cancel_all_record,
    cancel_record,
    orders_placed_record,
    privileged_record,
    replace_result_record,
)
from amm.bookkeeping.snapshot import market_meta
from amm.conf import amm_settings
from amm.connector import ConnectorError, OrderRequest
from amm.connector import Replacement as WireReplacement
from amm.connector import UnknownOutcome
from amm.runtime.context import RuntimeContext
from amm.runtime.lease import held_fence
from amm.services import market_startup_sync
from amm.strategy import Replacement

log = logging.getLogger(__name__)


def unknown_grace_ms() -> int:
    return amm_settings.AMM_UNKNOWN_GRACE_MS


def _unknown_fields(market_id: str, what: str) -> dict[str, Any]:
    """Runtime fields of an unknown outcome: re-sync before quoting for the grace period,
    counted from now (the call may still land this late)."""
    log.warning("%s: outcome of %s unknown; re-syncing orders before quoting", market_id, what)
    return {"resync": f"unknown outcome: {what}", "resync_until_ms": state.now_ms() + unknown_grace_ms()}


@contextmanager
def order_call(market_id: str, what: str) -> Iterator[dict[str, Any]]:
    """Wrap one order call and the recording of its answer: its trace stays in Redis until
    then. A definite answer (success or refusal) drops it; an unknown outcome, or anything
    else that breaks off the call (a job timeout, a lost Redis), marks the market for
    re-sync — when the process itself dies, the trace left behind does that. Yields the
    amm:runtime fields a success sets, written in the step that drops its trace."""
    token = uuid.uuid4().hex[:12]
    state.order_call_begin(market_id, token=token, what=what, now=state.now_ms())
    answered: dict[str, Any] = {}
    try:
        yield answered
    except UnknownOutcome:
        state.order_calls_end(market_id, [token], **_unknown_fields(market_id, what))
        raise
    except ConnectorError:  # refused: a definite answer
        state.order_calls_end(market_id, [token])
        raise
    except BaseException:
        try:
            state.order_calls_end(market_id, [token], **_unknown_fields(market_id, what))
        except Exception:  # noqa: BLE001 - the trace stays: the next cycle re-syncs all the same
            pass
        raise
    state.order_calls_end(market_id, [token], **answered)


def resync_due(runtime: dict[str, Any], now: int) -> bool:
    """Must the market's orders be re-synced from the platform before it quotes (or, in
    EMERGENCY, its book be emptied of orders Redis may not know)? A flag, or an unknown
    outcome's grace period not over yet."""
    return bool(runtime.get("resync")) or int(runtime.get("resync_until_ms") or 0) > now


def orphaned_calls_adopt(market_id: str, runtime: dict[str, Any]) -> dict[str, Any]:
    """Order calls whose holder never recorded an answer (it died or was fenced mid-call):
    their outcome is unknown — re-sync before quoting, for the grace period. Returns the
    runtime as it is now."""
    orphans = state.order_calls_in_flight(runtime)
    if not orphans:
        return runtime
    fields = _unknown_fields(market_id, f"{len(orphans)} order call(s) of an earlier holder "
                                        f"({', '.join(sorted(orphans.values()))})")
    state.order_calls_end(market_id, orphans, **fields)
    return {**{k: v for k, v in runtime.items() if not k.startswith(state.INFLIGHT_PREFIX)}, **fields}


def cancel_all(ctx: RuntimeContext, market_id: str, *, now: int | None = None) -> int:
    """Cancel every AMM order of the market (also ones Redis does not track) and release
    them in Redis. Returns how many tracked orders were released."""
    with order_call(market_id, "cancel-all") as answered:
        cancelled = ctx.connector.orders_cancel_all(market_id, fence=held_fence(market_id))
        released = cancel_all_record(market_id, cancelled or None, now=now)
        if cancelled:  # no book sequence in the answer: a pushed book may still show them
            answered["own_sequence_id"] = state.OWN_SEQUENCE_UNKNOWN
    if cancelled:
        log.info("%s: cancelled %d orders", market_id, len(cancelled))
    return released


def orders_resync(ctx: RuntimeContext, market_id: str, *, now: int | None = None) -> tuple[int, int]:
    """Make `amm:orders` equal to the platform's open AMM orders (SPEC §4 "restart ->
    rebuilt from GET /orders?status=OPEN,PARTIALLY_FILLED"): read the open orders, drain
    the fill feed, then release tracked orders that are no longer open (passively
    cancelled) and adopt open ones Redis does not know. Returns (released, adopted).

    The drain comes after the read: an order filled before the read has its fill in the
    feed by then (the feed is gap-free), so the fill books its shares; releasing it first
    would hand them back as available until the fill arrived — shares already sold."""
    open_orders = ctx.connector.orders_open(market_id)
    ctx.feed.poll(now=now)
    tracked = state.orders_get(market_id)
    open_ids = {o.id for o in open_orders}
    gone = [oid for oid in tracked if oid not in open_ids]
    released = cancel_record(market_id, gone, now=now) if gone else 0
    new = [o for o in open_orders if o.id not in tracked]
    adopted = orders_placed_record(market_id, new, now=now) if new else 0
    if released or adopted:
        log.warning("%s: re-sync released %d orders no longer open and adopted %d unknown ones",
                    market_id, released, adopted)
        # the orders changed without a book sequence: a pushed book may predate the change
        state.runtime_update(market_id, own_sequence_id=state.OWN_SEQUENCE_UNKNOWN)
    return released, adopted


def full_sync(ctx: RuntimeContext, market_id: str) -> None:
    """Rebuild the market's Redis state from the platform (Redis lost it, or it drifted)."""
    market_startup_sync(market_id=market_id, connector=ctx.connector, feed=ctx.feed)
    state.runtime_update(market_id, resync="", resync_full="", own_sequence_id=state.OWN_SEQUENCE_UNKNOWN)


@dataclass(frozen=True)
class ReplaceOutcome:
    """What one atomic replace did, as its answer was recorded."""

    placed: int
    cancelled: int
    replaced_ms: int  # the platform's answer recorded: the new quotes are live (what last_requote_ms says)


def wire_replacements(ctx: RuntimeContext, market_id: str, replacements: Iterable[Replacement], *,
                      now: int) -> list[WireReplacement]:
    """The strategy's replacements as the platform's replace items, each new order with a
    fresh client order id: the one place the two types meet."""
    items = []
    for item in replacements:
        new = None
        if item.new is not None:
            quote = item.new
            coid = ctx.ids.next(market_id=market_id, side=quote.side, direction=quote.direction, timestamp_ms=now)
            new = OrderRequest(client_order_id=coid, side=quote.side.value, direction=quote.direction.value,
                               price_cents=quote.price_cents, quantity=quote.quantity)
        items.append(WireReplacement(old_order_id=item.old_order_id, new=new))
    return items


def replace(ctx: RuntimeContext, market_id: str, replacements: Iterable[Replacement], *, now: int) -> ReplaceOutcome:
    """Send the strategy's replacements through the atomic replace and record the answer."""
    items = wire_replacements(ctx, market_id, replacements, now=now)
    with order_call(market_id, f"replace of {len(items)}") as answered:
        result = ctx.connector.orders_replace(market_id=market_id, replacements=items, fence=held_fence(market_id))
        replace_result_record(market_id, result, now=now)
        if result.sequence_id is not None:  # a book older than this does not show the replace yet
            answered["own_sequence_id"] = result.sequence_id
    return ReplaceOutcome(placed=len(result.placed), cancelled=len(result.all_cancelled_ids),
                          replaced_ms=state.now_ms())


def mint(ctx: RuntimeContext, market_id: str, *, quantity: int, request_id: str, now: int) -> bool:
    """Privileged mint, idempotent on request_id; an unknown outcome is retried by the next
    cycle with the same id (`pending_mint`)."""
    state.runtime_update(market_id, pending_mint=f"{request_id}:{quantity}")
    state.privileged_pending_add(market_id, kind="MINT", request_id=request_id, quantity=quantity)
    try:
        result = ctx.connector.amm_mint(market_id=market_id, quantity=quantity, request_id=request_id,
                                        fence=held_fence(market_id))
    except UnknownOutcome:
        raise  # kept pending: the next cycle asks again with the same request_id
    except ConnectorError:
        state.runtime_update(market_id, pending_mint="")  # refused: nothing happened
        state.privileged_pending_remove(market_id, request_id=request_id)
        raise
    outcome = privileged_record(market_id, result, kind="MINT", now=now)
    state.runtime_update(market_id, pending_mint="", **_rebuild_if_diverged(outcome))
    return outcome != "repeat"


def burn(ctx: RuntimeContext, market_id: str, *, quantity: int, request_id: str, now: int) -> bool:
    state.privileged_pending_add(market_id, kind="BURN", request_id=request_id, quantity=quantity)
    try:
        result = ctx.connector.amm_burn(market_id=market_id, quantity=quantity, request_id=request_id,
                                        fence=held_fence(market_id))
    except UnknownOutcome:
        raise  # stays pending: the wind-down asks again with the same request_id
    except ConnectorError:
        state.privileged_pending_remove(market_id, request_id=request_id)
        raise
    outcome = privileged_record(market_id, result, kind="BURN", now=now)
    if outcome == "diverged":
        state.runtime_update(market_id, **_rebuild_if_diverged(outcome))
    return outcome != "repeat"


def _rebuild_if_diverged(outcome: str) -> dict[str, str]:
    """Weighted-average cost depends on the order of events: when the mint/burn answer's
    position shows fills still in flight, the next cycle rebuilds the market from the
    platform instead of trusting deltas applied in another order."""
    return {"resync_full": "cost basis after a mint or burn with fills in flight"} if outcome == "diverged" else {}


def market_refresh(ctx: RuntimeContext, market_id: str, *, now: int) -> dict:
    """GET the market and write its metadata (status first) to `amm:market:{m}`."""
    market = ctx.connector.market_get(market_id)
    meta = {**market_meta(market), "updated_at_ms": now}
    state.market_meta_write(market_id, meta)
    return meta
