"""The statements that lock and read, run on the ORM's connection (same transaction): the market
row; the accounts an operation may touch, with their positions; orders by id; the book a page
at a time; open orders. Column lists come from the models, so a row maps onto `Model.from_db`
in field order."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from exchange.enums import OPEN_STATUSES, BookSide
from exchange.models import Account, Market, Order, Position
from exchange.services.clearing.rules import NewOrder, classify
from exchange.sql import columns as _columns
from exchange.sql import select_together as _select_together


@dataclass
class _Reach:
    """How far into the book new orders may trade: per side, the farthest price and the total
    quantity (a bid takes asks up to max_bid, an ask takes bids down to min_ask)."""

    max_bid: int | None = None
    bid_quantity: int = 0
    min_ask: int | None = None
    ask_quantity: int = 0

    @classmethod
    def of(cls, new_orders: Iterable[NewOrder]) -> _Reach:
        reach = cls()
        for new in new_orders:
            _, book_side, yes_price = classify(new.side, new.direction, new.price_cents)
            if book_side == BookSide.BID:
                reach.max_bid = yes_price if reach.max_bid is None else max(reach.max_bid, yes_price)
                reach.bid_quantity += new.quantity
            else:
                reach.min_ask = yes_price if reach.min_ask is None else min(reach.min_ask, yes_price)
                reach.ask_quantity += new.quantity
        return reach

    @property
    def any(self) -> bool:
        return self.max_bid is not None or self.min_ask is not None


@dataclass
class OrderLookup:
    """Orders to read with the locks: by id, and `user_id`'s orders using any of `client_order_ids`."""

    ids: list[uuid.UUID]
    user_id: str | None = None
    client_order_ids: list[str] = field(default_factory=list)


_OPEN = "(" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")"
_MARKET_COLUMNS = _columns(Market)
_ORDER_COLUMNS = _columns(Order)
_ACCOUNT_COLUMNS = _columns(Account)
_POSITION_COLUMNS = _columns(Position)


def _lock_market_sql(market_id: str):
    """The market row, locked: it serializes every operation on this market's book and positions."""
    return f"SELECT {', '.join(_MARKET_COLUMNS)} FROM markets WHERE id = %s FOR UPDATE", [market_id]


def _market_of_order(order_id: uuid.UUID, user_id: str):
    """SQL for the market of a user's order (an order never changes market) and its parameters."""
    return "(SELECT market_id FROM orders WHERE id = %s AND user_id = %s)", [order_id, user_id]


def _lock_market_of_order_sql(user_id: str, order_id: uuid.UUID):
    market_sql, params = _market_of_order(order_id, user_id)
    return f"SELECT {', '.join(_MARKET_COLUMNS)} FROM markets WHERE id = {market_sql} FOR UPDATE", params


def _orders_sql(lookup: OrderLookup):
    sql = f"SELECT {', '.join(_ORDER_COLUMNS)} FROM orders WHERE id = ANY(%s::uuid[])"
    params: list = [list(lookup.ids)]
    if lookup.client_order_ids:
        sql += " OR (user_id = %s AND client_order_id = ANY(%s::varchar[]))"
        params += [lookup.user_id, list(lookup.client_order_ids)]
    return sql, params


# The accounts an operation may touch, locked in user_id order in one statement (so two
# operations always lock accounts in the same order), with their positions in the market:
# the given users; the counterparties, i.e. owners of open orders on the other side within
# reach of the new orders' prices, in book order only as deep as the new orders' total
# quantity may go (`ahead`: other users' remaining quantity before an order; the given users'
# own orders are skipped, cancelled or theirs anyway, so they do not count).
_LOCK_ACCOUNTS_SQL = f"""
WITH book AS (
    SELECT user_id, book_side, COALESCE(SUM(CASE WHEN user_id = ANY(%s::varchar[]) THEN 0
                                                 ELSE quantity - filled_quantity END) OVER (
        PARTITION BY book_side ORDER BY CASE book_side WHEN 'ASK' THEN yes_price ELSE -yes_price END, priority
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS ahead
    FROM orders
    WHERE market_id = {{market}} AND status IN {_OPEN}
      AND ((book_side = 'ASK' AND yes_price <= %s) OR (book_side = 'BID' AND yes_price >= %s))
), crossing AS (
    SELECT DISTINCT user_id FROM book WHERE ahead < CASE book_side WHEN 'ASK' THEN %s ELSE %s END
), wanted AS (
    SELECT user_id, bool_or(is_crossing) AS is_crossing FROM (
        SELECT unnest(%s::varchar[]), false
        UNION ALL SELECT user_id, true FROM crossing
    ) AS u (user_id, is_crossing) GROUP BY user_id
)
SELECT w.is_crossing, {", ".join("a." + c for c in _ACCOUNT_COLUMNS)}, {", ".join("p." + c for c in _POSITION_COLUMNS)}
FROM wanted w JOIN accounts a ON a.user_id = w.user_id
LEFT JOIN positions p ON p.user_id = a.user_id AND p.market_id = {{market}}
ORDER BY a.user_id
FOR UPDATE OF a
"""


def _lock_accounts_sql(market_id: str | None, user_ids: Iterable[str], reach: _Reach,
                       own_order: tuple[str, uuid.UUID] | None = None):
    market_sql, market_params = ("%s", [market_id]) if own_order is None else _market_of_order(own_order[1], own_order[0])
    users = sorted(user_ids)
    return (_LOCK_ACCOUNTS_SQL.format(market=market_sql),
            [users, *market_params, reach.max_bid, reach.min_ask, reach.bid_quantity, reach.ask_quantity,
             users, *market_params])


def _accounts_and_positions(rows) -> Iterator[tuple[bool, Account, Position | None]]:
    n = len(_ACCOUNT_COLUMNS)
    for row in rows:
        account = Account.from_db("default", None, row[1:1 + n])
        position = Position.from_db("default", None, row[1 + n:]) if row[1 + n] is not None else None
        yield row[0], account, position


def _positions(market_id: str, user_ids: set[str]) -> list[Position]:
    (rows,) = _select_together([(f"SELECT {', '.join(_POSITION_COLUMNS)} FROM positions WHERE market_id = %s "
                                 "AND user_id = ANY(%s::varchar[])", [market_id, sorted(user_ids)])])
    return [Position.from_db("default", None, row) for row in rows]


BOOK_PAGE = 50  # rows per read of the book; a taker usually needs the first few


def _resting_page_sql(market_id: str, side: str, reach: int, offset: int = 0):
    """One page of the book: open orders of `side` crossing `reach`, best price then time first."""
    if side == BookSide.ASK:
        condition, ordering = "yes_price <= %s", "yes_price, priority"
    else:
        condition, ordering = "yes_price >= %s", "yes_price DESC, priority"
    return (f"SELECT {', '.join(_ORDER_COLUMNS)} FROM orders WHERE market_id = %s AND status IN {_OPEN} "
            f"AND book_side = %s AND {condition} ORDER BY {ordering} LIMIT %s OFFSET %s",
            [market_id, side, reach, BOOK_PAGE, offset])


def _open_orders(market_id: str, user_id: str | None) -> list[Order]:
    sql = f"SELECT {', '.join(_ORDER_COLUMNS)} FROM orders WHERE market_id = %s AND status IN {_OPEN}"
    params = [market_id]
    if user_id is not None:
        sql += " AND user_id = %s"
        params.append(user_id)
    (rows,) = _select_together([(sql + " ORDER BY priority", params)])
    return [Order.from_db("default", None, row) for row in rows]
