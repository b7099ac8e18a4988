"""Platform reads (HackSoft selectors): what the REST API shows a user (SPEC §3.6).

Every selector that reads a user's data takes the caller's `user_id` and filters by it, so
another user's rows are indistinguishable from missing ones. The reads a trading client
repeats many times a second (balance, market, position, trades, order book) are single
prepared SQL statements (exchange.sql): one round trip and one snapshot each.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError as DjangoValidationError

from exchange.enums import OPEN_STATUSES, OrderStatus
from exchange.exceptions import InvalidInput, NotFound
from exchange.models import Account, Market, Order, Position, Trade
from exchange.sql import columns, rows_as, select_together

TRADES_PAGE_MAX = 1000
ORDERS_PAGE_MAX = 5000
ORDERBOOK_DEPTH_MAX = 100

_ACCOUNT = ", ".join(columns(Account))
_MARKET = ", ".join(columns(Market))
_MARKET_M = ", ".join(f"m.{c}" for c in columns(Market))
_POSITION_P = ", ".join(f"p.{c}" for c in columns(Position))
_TRADE = ", ".join(columns(Trade))
_OPEN = "(" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")"


def _one(sql: str, params: list) -> tuple | None:
    (rows,) = select_together([(sql, params)])
    return rows[0] if rows else None


def _market_missing(market_id: str) -> NotFound:
    return NotFound(f"market {market_id!r} does not exist", code="MARKET_NOT_FOUND", field="market_id")


def account_balance_get(*, user_id: str) -> Account:
    row = _one(f"SELECT {_ACCOUNT} FROM accounts WHERE user_id = %s", [user_id])
    if row is None:
        raise NotFound(f"no account for user {user_id}", code="ACCOUNT_NOT_FOUND")
    return Account.from_db("default", None, row)


def market_get(*, market_id: str) -> Market:
    row = _one(f"SELECT {_MARKET} FROM markets WHERE id = %s", [market_id])
    if row is None:
        raise _market_missing(market_id)
    return Market.from_db("default", None, row)


def market_list(*, status: str | None = None) -> list[Market]:
    if status:
        (rows,) = select_together([(f"SELECT {_MARKET} FROM markets WHERE status = %s ORDER BY id", [status])])
    else:
        (rows,) = select_together([(f"SELECT {_MARKET} FROM markets ORDER BY id", [])])
    return rows_as(Market, rows)


def position_get(*, user_id: str, market_id: str) -> Position:
    """The caller's position in a market; an unsaved all-zero row when it holds none."""
    row = _one(f"SELECT {_MARKET_M}, {_POSITION_P} FROM markets m "
               "LEFT JOIN positions p ON p.market_id = m.id AND p.user_id = %s WHERE m.id = %s", [user_id, market_id])
    if row is None:
        raise _market_missing(market_id)
    n = len(columns(Market))
    market = Market.from_db("default", None, row[:n])
    if row[n] is None:
        return Position(user_id=user_id, market=market)
    position = Position.from_db("default", None, row[n:])
    position.market = market
    return position


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
    limit = max(1, min(limit, TRADES_PAGE_MAX))
    sql = f"SELECT {_TRADE} FROM trades WHERE (buy_user_id = %s OR sell_user_id = %s) AND id > %s"
    params: list = [user_id, user_id, since]
    if market_id:
        sql += " AND market_id = %s"
        params.append(market_id)
    (rows,) = select_together([(sql + " ORDER BY id LIMIT %s", [*params, limit])])
    trades = rows_as(Trade, rows)
    return TradePage(trades=trades, next_since=trades[-1].id if trades else since)


@dataclass
class OrderBook:
    market_id: str
    sequence_id: int
    bids: list[list[int]]
    asks: list[list[int]]
    recent_trades: list[dict] = field(default_factory=list)  # the market's tape, newest first


# One statement, so one snapshot: the levels are exactly the book at that sequence_id.
_ORDERBOOK_SQL = f"""
SELECT 'M', 0, sequence_id FROM markets WHERE id = %(market)s
UNION ALL (SELECT 'B', yes_price, SUM(quantity - filled_quantity) FROM orders
           WHERE market_id = %(market)s AND status IN {_OPEN} AND book_side = 'BID'
           GROUP BY yes_price ORDER BY yes_price DESC LIMIT %(depth)s)
UNION ALL (SELECT 'A', yes_price, SUM(quantity - filled_quantity) FROM orders
           WHERE market_id = %(market)s AND status IN {_OPEN} AND book_side = 'ASK'
           GROUP BY yes_price ORDER BY yes_price LIMIT %(depth)s)
"""


# The market's last trades, anyone's, without who traded (a public tape): a market maker
# learns the order flow's intensity from where trades print. On the (market, executed_at) index.
_RECENT_TRADES_SQL = """
SELECT id, price_cents, quantity, (EXTRACT(EPOCH FROM executed_at) * 1000)::bigint FROM trades
WHERE market_id = %(market)s ORDER BY executed_at DESC, id DESC LIMIT %(recent)s
"""
RECENT_TRADES_MAX = 100


def orderbook_get(*, market_id: str, depth: int = 20, trades: int = 0) -> OrderBook:
    """YES-view levels (remaining quantity summed per price; bids descending, asks ascending),
    the book's sequence_id and, when asked, the market's last `trades` trades (newest first; a
    trade moves the sequence_id, so a reader that re-reads the book on a new sequence_id sees
    every trade while fewer than `trades` print between two reads)."""
    depth = max(1, min(depth, ORDERBOOK_DEPTH_MAX))
    statements = [(_ORDERBOOK_SQL, {"market": market_id, "depth": depth})]
    if trades:
        statements.append((_RECENT_TRADES_SQL, {"market": market_id, "recent": min(trades, RECENT_TRADES_MAX)}))
    rows, *tapes = select_together(statements)
    tape = tapes[0] if tapes else []
    sequence = [int(value) for kind, _, value in rows if kind == "M"]
    if not sequence:
        raise _market_missing(market_id)
    bids = sorted(([int(p), int(q)] for kind, p, q in rows if kind == "B"), reverse=True)
    asks = sorted([int(p), int(q)] for kind, p, q in rows if kind == "A")
    recent = [{"id": int(i), "price_cents": int(p), "quantity": int(q), "executed_ms": int(t)} for i, p, q, t in tape]
    return OrderBook(market_id=market_id, sequence_id=sequence[0], bids=bids, asks=asks, recent_trades=recent)
