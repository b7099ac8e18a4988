"""Platform reads (HackSoft selectors): what the REST API shows a user (SPEC §3.6).

Every selector that reads a user's data takes the caller's `user_id` and filters by it, so
another user's rows are indistinguishable from missing ones.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.db.models import F, Q, Sum

from exchange.enums import OPEN_STATUSES, BookSide, OrderStatus
from exchange.exceptions import InvalidInput, NotFound
from exchange.models import Account, Market, Order, Position, Trade

TRADES_PAGE_MAX = 1000
ORDERS_PAGE_MAX = 5000
ORDERBOOK_DEPTH_MAX = 100


@contextmanager
def _snapshot():
    """One consistent view of the database for several queries (REPEATABLE READ)."""
    if connection.in_atomic_block:
        # Inside a caller's transaction: its isolation level is already fixed.
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def account_balance_get(*, user_id: str) -> Account:
    account = Account.objects.filter(user_id=user_id).first()
    if account is None:
        raise NotFound(f"no account for user {user_id}", code="ACCOUNT_NOT_FOUND")
    return account


def market_get(*, market_id: str) -> Market:
    market = Market.objects.filter(pk=market_id).first()
    if market is None:
        raise NotFound(f"market {market_id!r} does not exist", code="MARKET_NOT_FOUND", field="market_id")
    return market


def market_list(*, status: str | None = None) -> list[Market]:
    rows = Market.objects.all().order_by("id")
    if status:
        rows = rows.filter(status=status)
    return list(rows)


def position_get(*, user_id: str, market_id: str) -> Position:
    """The caller's position in a market; an unsaved all-zero row when it holds none."""
    market = market_get(market_id=market_id)
    position = Position.objects.filter(user_id=user_id, market=market).first()
    return position or Position(user_id=user_id, market=market)


def order_get(*, user_id: str, order_id) -> Order:
    try:
        order = Order.objects.filter(pk=uuid.UUID(str(order_id))).first()
    except (ValueError, TypeError, DjangoValidationError):
        order = None
    if order is None or order.user_id != user_id:
        # Another user's order answers exactly like a missing one (nothing leaks).
        raise NotFound(f"order {order_id} not found", code="ORDER_NOT_FOUND", field="order_id")
    return order


def order_list(
    *,
    user_id: str,
    market_id: str | None = None,
    statuses: list[str] | None = None,
    client_order_id: str | None = None,
    limit: int = ORDERS_PAGE_MAX,
) -> list[Order]:
    """The caller's orders, newest first, filtered by any of market, statuses, client id."""
    for status in statuses or ():
        if status not in OrderStatus.values:
            raise InvalidInput(f"status {status!r} is not one of {OrderStatus.values}", field="status")
    rows = Order.objects.filter(user_id=user_id)
    if market_id:
        rows = rows.filter(market_id=market_id)
    if statuses:
        rows = rows.filter(status__in=statuses)
    if client_order_id:
        rows = rows.filter(client_order_id=client_order_id)
    return list(rows.order_by("-created_at", "-priority")[: max(1, min(limit, ORDERS_PAGE_MAX))])


@dataclass
class TradePage:
    trades: list[Trade]
    next_since: int


def trade_list(*, user_id: str, since: int = 0, limit: int = 500, market_id: str | None = None) -> TradePage:
    """The caller's trades with id > since, ascending: a gap-free cursor (SPEC §3.6).

    Gap-free because the engine inserts trades under a transaction-level advisory lock
    (services.clearing.TRADE_FEED_LOCK_KEY), so a trade id never becomes visible after a
    larger one; paging by `id > since ORDER BY id` then sees every trade exactly once."""
    rows = Trade.objects.filter(Q(buy_user_id=user_id) | Q(sell_user_id=user_id), id__gt=since)
    if market_id:
        rows = rows.filter(market_id=market_id)
    trades = list(rows.order_by("id")[: max(1, min(limit, TRADES_PAGE_MAX))])
    return TradePage(trades=trades, next_since=trades[-1].id if trades else since)


@dataclass
class OrderBook:
    market_id: str
    sequence_id: int
    bids: list[list[int]]
    asks: list[list[int]]


def orderbook_get(*, market_id: str, depth: int = 20) -> OrderBook:
    """YES-view levels (remaining quantity summed per price) and the book's sequence_id,
    read from one snapshot so the levels are exactly the book at that sequence_id."""
    depth = max(1, min(depth, ORDERBOOK_DEPTH_MAX))
    with _snapshot():
        market = market_get(market_id=market_id)
        book = Order.objects.filter(market=market, status__in=OPEN_STATUSES)
        levels = {}
        for side, ordering in ((BookSide.BID, "-yes_price"), (BookSide.ASK, "yes_price")):
            rows = (
                book.filter(book_side=side)
                .values("yes_price")
                .annotate(quantity=Sum(F("quantity") - F("filled_quantity")))
                .order_by(ordering)[:depth]
            )
            levels[side] = [[row["yes_price"], row["quantity"]] for row in rows]
        return OrderBook(market_id=market.id, sequence_id=market.sequence_id,
                         bids=levels[BookSide.BID], asks=levels[BookSide.ASK])
