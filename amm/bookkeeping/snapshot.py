"""Startup sync and rebuild (seed §7.2 steps 1–2): platform truth -> Redis.

A snapshot is consistent with the fill feed: drain the feed (cursor c), read balance,
position, open orders, the position again (no order placed or cancelled in between) and
market, then check that no trade after c exists, so everything read reflects exactly the
trades <= c. (A last balance read only tells whether the account moved at all.) The rebuild
script writes the snapshot only if the cursor is still c (no newer fill was applied in
between), so a fill is never counted twice — once in the snapshot and once by the feed —
nor lost; and only if no mint/burn of any market was in flight or applied meanwhile (the
cash epoch), so one is never counted twice in the cash either. Cash is written in 'total' mode (available + frozen, minus what the AMM's
tracked BUY orders hold), which no concurrent placement in another market can skew.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping

from amm import state
from amm.bookkeeping.fills import FillFeed
from amm.clock import now_ms
from amm.connector import Balance, Market, Order, PlatformClient, Position
from amm.exceptions import SyncError
from amm.state import OrderEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlatformSnapshot:
    market: Market
    position: Position
    balance: Balance  # read inside the window the trade check proves quiet
    orders: list[Order]  # the AMM's open orders in the market
    cursor: int  # the snapshot reflects exactly the AMM trades with id <= cursor
    trades_quiet: bool  # no AMM trade after `cursor` existed when the snapshot was checked, nor did
    #                     the market's AMM orders change while they and the position were read
    account_quiet: bool  # ... and the account version did not move while reading
    started_ms: int
    cash_epoch: int = 0  # amm:cash_epoch when it began (a mint/burn applied since voids its cash)
    # Redis's inventory and (cash, held) of the market read inside the same window, so that
    # a reconciliation compares two views of one moment: a fill applied after the window (any
    # market's: the cash is the account's) would otherwise read as drift.
    redis_inventory: state.InventoryView | None = None
    redis_cash: tuple[int | None, int] | None = None


@dataclass(frozen=True)
class SyncResult:
    market_id: str
    snapshot: PlatformSnapshot
    cash_cents: int
    attempts: int


def market_meta(market: Market) -> dict[str, Any]:
    """The `amm:market:{m}` fields of a platform market."""
    return {
        "status": market.status,
        "min_price_cents": market.min_price_cents,
        "max_price_cents": market.max_price_cents,
        "maker_fee_bps": market.maker_fee_bps,
        "taker_fee_bps": market.taker_fee_bps,
        "trading_end_ms": market.trading_end_ms,
        "resolution_ms": market.resolution_ms,
        "reserve_balance": market.reserve_balance,
        "total_yes_shares": market.total_yes_shares,
        "total_no_shares": market.total_no_shares,
        "outcome": market.outcome,
        "book_sequence_id": market.sequence_id,
    }


def order_entry(order: Order, *, default_created_ms: int = 0) -> OrderEntry:
    """An `amm:orders` value from a platform order (remaining = what is still open)."""
    return OrderEntry(
        order_id=order.id, side=order.side, direction=order.direction, price=order.price_cents,
        qty=order.quantity, remaining=order.remaining_quantity, book_type=order.book_type,
        created_ms=order.created_ms or default_created_ms,
    )


def platform_snapshot(*, market_id: str, connector: PlatformClient, feed: FillFeed, attempts: int = 3) -> PlatformSnapshot:
    """Read the platform's truth for one market in a window without AMM trades (retrying)."""
    snapshot = None
    for _ in range(max(1, attempts)):
        started = now_ms()
        epoch = state.cash_epoch()
        cursor = feed.poll().cursor
        balance0 = connector.balance_get()
        position = connector.position_get(market_id)
        orders = connector.orders_open(market_id)
        # An order placed or cancelled in this market between the two reads (a late-landing
        # call, a passive cancel) would pair pending sells with a different set of orders.
        orders_quiet = connector.position_get(market_id) == position
        market = connector.market_get(market_id)
        redis_inventory, redis_cash = state.inventory_get(market_id), state.cash_view(market_id)
        newer = connector.trades_list(since=cursor, limit=1).results
        balance1 = connector.balance_get()
        trades_quiet = not newer and orders_quiet
        snapshot = PlatformSnapshot(
            market=market, position=position, balance=balance0, orders=orders, cursor=cursor,
            trades_quiet=trades_quiet, account_quiet=trades_quiet and balance1.version == balance0.version,
            started_ms=started, cash_epoch=epoch, redis_inventory=redis_inventory, redis_cash=redis_cash,
        )
        if trades_quiet:
            return snapshot
        log.info("snapshot of %s: the AMM traded (after trade %d) or its orders moved while reading; retrying",
                 market_id, cursor)
    assert snapshot is not None
    return snapshot


def market_sync(
    *,
    market_id: str,
    connector: PlatformClient,
    feed: FillFeed | None = None,
    state_fields: Mapping[str, Any] | None = None,
    state_defaults: Mapping[str, Any] | None = None,
    attempts: int = 5,
    now: int | None = None,
) -> SyncResult:
    """Load the platform's balance, position, open orders and market metadata into Redis
    (`amm:inventory`, `amm:orders`, `amm:market`, `amm:state` fields given), registering
    the market in `amm:markets`. Raises SyncError if no quiet window was found."""
    feed = feed or FillFeed(connector=connector)
    for attempt in range(1, max(1, attempts) + 1):
        snap = platform_snapshot(market_id=market_id, connector=connector, feed=feed, attempts=1)
        if not snap.trades_quiet:
            continue
        at = now if now is not None else now_ms()
        pos = snap.position
        cash = state.market_rebuild(
            market_id,
            yes_volume=pos.yes_volume, yes_cost_sum=pos.yes_cost_sum, yes_pending_sell=pos.yes_pending_sell,
            no_volume=pos.no_volume, no_cost_sum=pos.no_cost_sum, no_pending_sell=pos.no_pending_sell,
            cash_mode="total", cash_value=snap.balance.total_cents,
            market_meta=market_meta(snap.market),
            orders=[order_entry(o, default_created_ms=at) for o in snap.orders],
            state={**_skew(pos), **(state_fields or {})},
            state_defaults=state_defaults,
            expected_cursor=snap.cursor,
            expected_epoch=snap.cash_epoch,
            now=at,
        )
        if cash is None:
            log.info("sync of %s: a fill or a mint/burn moved the AMM's cash during the rebuild; retrying", market_id)
            time.sleep(0.005 * attempt)  # a mint/burn in flight lands within a round trip or two
            continue
        state.journal_append(_placed_event(o, market_id, at) for o in snap.orders)  # audit of adopted orders
        log.info("synced %s from the platform: YES %d NO %d cash %d, %d open orders, cursor %d",
                 market_id, pos.yes_volume, pos.no_volume, cash, len(snap.orders), snap.cursor)
        return SyncResult(market_id=market_id, snapshot=snap, cash_cents=cash, attempts=attempt)
    raise SyncError(f"could not take a quiet snapshot of {market_id} in {attempts} attempts")


def _placed_event(order: Order, market_id: str, now_ms: int) -> dict[str, Any]:
    return {"event": "PLACED", "order_id": order.id, "market_id": market_id, "client_order_id": order.client_order_id,
            "side": order.side, "direction": order.direction, "book_type": order.book_type,
            "price": order.price_cents, "qty": order.quantity, "status": order.status,
            "created_ms": order.created_ms or now_ms, "ts": now_ms}


def _skew(position: Position) -> dict[str, float]:
    total = position.yes_volume + position.no_volume
    return {"inventory_skew": (position.yes_volume - position.no_volume) / total if total else 0.0}
