"""The `data` of each event: the REST API's bodies (SPEC §3.6), built without a serializer
(they are built for every changed row of every flush). tests/exchange/events/test_bodies.py
checks them field for field against exchange/apis/serializers.py."""
from __future__ import annotations

import datetime as dt
import functools

from rest_framework.fields import DateTimeField

from exchange.models import Market, Order, Trade

_DATETIME = DateTimeField()  # formats exactly as the API does (ISO 8601, 'Z' for UTC)


def _when(value: dt.datetime | None) -> str | None:
    return None if value is None else datetime_text(value)


@functools.lru_cache(maxsize=4096)
def datetime_text(value: dt.datetime) -> str:
    """A timestamp as the API writes it. Cached: the orders of one operation mostly share a
    few timestamps (its own `now`), which its events and then its answer write again, and
    DRF's formatting (the current time zone's lookup) was most of the cost of a body."""
    return _DATETIME.to_representation(value)


def trade_body(t: Trade) -> dict:
    return {
        "id": t.id, "market_id": t.market_id, "scenario": t.scenario, "price_cents": t.price_cents,
        "quantity": t.quantity, "buy_order_id": str(t.buy_order_id), "sell_order_id": str(t.sell_order_id),
        "buy_user_id": t.buy_user_id, "sell_user_id": t.sell_user_id, "maker_order_id": str(t.maker_order_id),
        "taker_order_id": str(t.taker_order_id), "maker_fee": t.maker_fee, "taker_fee": t.taker_fee,
        "buy_realized_pnl": t.buy_realized_pnl, "sell_realized_pnl": t.sell_realized_pnl,
        "executed_at": _when(t.executed_at),
    }


def order_body(o: Order) -> dict:
    return {
        "id": str(o.id), "client_order_id": o.client_order_id, "market_id": o.market_id, "side": o.original_side,
        "direction": o.original_direction, "book_type": o.book_type, "price_cents": o.price_cents,
        "quantity": o.quantity, "filled_quantity": o.filled_quantity, "remaining_quantity": o.remaining_quantity,
        "status": o.status, "time_in_force": o.time_in_force, "created_at": _when(o.created_at),
    }


def market_body(m: Market) -> dict:
    return {
        "id": m.id, "title": m.title, "status": m.status, "min_price_cents": m.min_price_cents,
        "max_price_cents": m.max_price_cents, "maker_fee_bps": m.maker_fee_bps, "taker_fee_bps": m.taker_fee_bps,
        "trading_end_at": _when(m.trading_end_at), "resolution_date": _when(m.resolution_date),
        "reserve_balance": m.reserve_balance, "total_yes_shares": m.total_yes_shares,
        "total_no_shares": m.total_no_shares, "outcome": m.outcome, "sequence_id": m.sequence_id,
    }
