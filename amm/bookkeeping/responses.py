"""REST answers -> Redis (seed §7.1 step 2): what the executor calls after each order call.

Placements, replaces and cancels update `amm:orders` (and what the orders hold of cash and
shares); their `trades[]` are only logged — inventory moves only through the fill feed.
The one exception is the AMM's privileged mint/burn, whose answer updates inventory here.
"""
from __future__ import annotations

import logging
from typing import Iterable

from amm import state
from amm.alerts import alert_raise
from amm.clock import now_ms
from amm.connector import Order, PlaceResult, PrivilegedResult, ReplaceResult, Trade, is_live
from amm.connector.order_status import REJECTED
from amm.models import AlertSeverity, AlertType

log = logging.getLogger(__name__)


def _now(now: int | None) -> int:
    return now if now is not None else now_ms()


def _log_trades(market_id: str, trades: Iterable[Trade], source: str) -> None:
    for trade in trades:
        log.info("%s %s: immediate trade %s %s %d @ %d (applied by the fill feed)", source, market_id,
                 trade.id, trade.scenario, trade.quantity, trade.price_cents)


def orders_placed_record(market_id: str, orders: Iterable[Order], *, now: int | None = None) -> int:
    """Track placed orders that rest on the book; journal every one. A REJECTED order is
    logged and alerted (seed §2.3). Returns how many orders are now tracked."""
    now = _now(now)
    tracked = 0
    for order in orders:
        if order.status == REJECTED:

            log.error("order %s (%s) REJECTED by the platform", order.id, order.client_order_id)
            alert_raise(type=AlertType.ORDER_REJECTED, severity=AlertSeverity.WARNING, market_id=market_id,
                        payload={"order_id": order.id, "client_order_id": order.client_order_id})
            continue
        remaining = state.order_track(
            market_id, order_id=order.id, side=order.side, direction=order.direction, price=order.price_cents,
            qty=order.quantity, book_type=order.book_type, created_ms=order.created_ms or now,
            client_order_id=order.client_order_id, status=order.status, track=is_live(order.status), now=now,
        )
        tracked += 1 if remaining else 0
    return tracked


def place_result_record(market_id: str, result: PlaceResult, *, now: int | None = None) -> int:
    _log_trades(market_id, result.trades, "place")
    return orders_placed_record(market_id, [result.order], now=now)


def replace_result_record(market_id: str, result: ReplaceResult, *, now: int | None = None) -> int:
    """Release the replaced orders (REPLACED), then track the new ones."""
    now = _now(now)
    state.orders_untrack(market_id, result.all_cancelled_ids, event="REPLACED", now=now)
    _log_trades(market_id, result.trades, "replace")
    return orders_placed_record(market_id, result.placed, now=now)


def cancel_record(market_id: str, order_ids: Iterable[str], *, now: int | None = None) -> int:
    """Release cancelled orders (own cancel, or a passive cancel the AMM noticed)."""
    return state.orders_untrack(market_id, list(order_ids), event="CANCELLED", now=_now(now))


def cancel_all_record(market_id: str, cancelled: Iterable[Order] | None = None, *, now: int | None = None) -> int:
    """After `POST /orders/cancel-all`: release the cancelled orders (all tracked when the
    answer does not list them; seed: "batch cancel -> DEL")."""
    ids = None if cancelled is None else [o.id for o in cancelled]
    if ids is not None and not ids:
        ids = None
    return state.orders_untrack(market_id, ids, event="CANCELLED", now=_now(now))


def privileged_record(market_id: str, result: PrivilegedResult, *, kind: str, now: int | None = None) -> str:
    """Apply a mint/burn answer to inventory and cash, once per request_id (seed §1), with
    the answer's position making the cost sums exact when Redis has seen the same fills.
    Returns "repeat", "applied", "exact" or "diverged" (state.privileged_apply)."""
    pos = result.position
    position = None if pos is None else {"yes_volume": pos.yes_volume, "yes_cost_sum": pos.yes_cost_sum,
                                         "no_volume": pos.no_volume, "no_cost_sum": pos.no_cost_sum}
    outcome = state.privileged_apply(market_id, kind=kind, request_id=result.request_id, quantity=result.quantity,
                                     position=position, now=_now(now))
    log.info("%s %s x%d (%s): %s", kind, market_id, result.quantity, result.request_id, outcome)
    return outcome
