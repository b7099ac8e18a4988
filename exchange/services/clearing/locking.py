"""Locks and reads of one operation (SPEC §3.2).

Lock order, always: market -> accounts (sorted by user_id, one statement) -> positions of
that market. No operation locks two markets, so two operations can never deadlock. The fee
account is not among the accounts: trades credit it at flush, after taking the trade-feed
lock (`Flush._fee_credit`)."""
from __future__ import annotations

import uuid
from typing import Iterable

from django.utils import timezone

from exchange.enums import FEE_USER_ID, BookSide
from exchange.exceptions import NotFound
from exchange.models import Market, Order, Position
from exchange.services.clearing.reads import (
    BOOK_PAGE,
    OrderLookup,
    _accounts_and_positions,
    _lock_accounts_sql,
    _lock_market_of_order_sql,
    _lock_market_sql,
    _orders_sql,
    _positions,
    _Reach,
    _resting_page_sql,
)
from exchange.services.clearing.rules import NewOrder
from exchange.services.clearing.state import ClearingState, _BookSide, _market_values, _position_values
from exchange.services.fencing import fence_answered, fence_statement
from exchange.sql import select_together as _select_together


class Locking(ClearingState):
    """The constructor of `Clearing`, which takes the market lock and, in the same round trip,
    what the operation needs; then the accounts and positions an operation touches."""

    def __init__(self, market_id: str | None = None, *, own_order: tuple[str, uuid.UUID] | None = None,
                 users: Iterable[str] | None = None, crossing: Iterable[NewOrder] = (),
                 orders: OrderLookup | None = None, fence: tuple[str, int | None] | None = None):
        """Lock the market row: by id, or the market of `own_order` (user_id, order_id), which
        answers ORDER_NOT_FOUND unless the order is that user's.

        With `users`, in the same round trip: read `orders` (then `read_orders`), lock the
        accounts (what `lock_accounts` does) and read the book within reach of `crossing`. The
        statements are sent together but run one after the other, so each starts once the
        market lock is held and sees every order committed before it.

        `fence` (user_id, fencing token), with `market_id`: the fencing check of an order call
        (exchange.services.fencing), sent right after the lock, in the same round trip; a stale
        token raises STALE_FENCING_TOKEN once the market is known to exist. A None token: no
        check."""
        super().__init__()

        statements = [_lock_market_sql(market_id) if own_order is None else _lock_market_of_order_sql(*own_order)]
        fenced = fence is not None and fence[1] is not None
        if fenced:
            if market_id is None:
                raise ValueError("a fence needs the market's id")
            statements.append(fence_statement(fence[0], market_id, fence[1]))
        if users is not None:
            reach = _Reach.of(crossing)
            if orders is not None:
                statements.append(_orders_sql(orders))
            statements.append(_lock_accounts_sql(market_id, users, reach, own_order))
            if reach.max_bid is not None:
                statements.append(_resting_page_sql(market_id, BookSide.ASK, reach.max_bid))
            if reach.min_ask is not None:
                statements.append(_resting_page_sql(market_id, BookSide.BID, reach.min_ask))
        results = iter(_select_together(statements))
        # The operation's time is taken once it holds the market: its trades' executed_at then
        # follow the market's commit order and exclude the wait for the lock, before which
        # nothing of this operation had happened.
        self.now = timezone.now()

        rows = next(results)
        if not rows:
            if own_order is not None:
                # Someone else's order answers exactly like a missing one: nothing leaks.
                raise NotFound(f"order {own_order[1]} not found", code="ORDER_NOT_FOUND", field="order_id")
            raise NotFound(f"market {market_id!r} does not exist", code="MARKET_NOT_FOUND", field="market_id")
        self.market: Market = Market.from_db("default", None, rows[0])
        if fenced:
            fence_answered(fence[1], next(results))
        self._market_read, self._market_read_sequence = _market_values(self.market), self.market.sequence_id
        if users is not None:
            if orders is not None:
                self.read_orders = [Order.from_db("default", None, row) for row in next(results)]
            self._take_accounts(next(results), set(users), reach)
            for side, price in ((BookSide.ASK, reach.max_bid), (BookSide.BID, reach.min_ask)):
                if price is not None:
                    page = [Order.from_db("default", None, row) for row in next(results)]
                    self._book[side] = _BookSide(reach=price, rows=page, complete=len(page) < BOOK_PAGE)

    def lock_accounts(self, user_ids: Iterable[str], *, crossing: Iterable[NewOrder] = ()) -> set[str]:
        """Lock every account this operation may touch, in one sorted statement, and read these
        users' positions in this market with it. The accounts are `user_ids` and the owners of
        resting orders that any of the `crossing` orders could trade with (returned: the
        counterparties, a superset).

        Counterparties are looked for within reach in price, and in book order only as deep
        as the new orders' total quantity: matching reaches another user's order only once
        every other user's order ahead of it is consumed, and the new orders consume at most
        their own quantity (`_match` still refuses an order whose owner is not locked).

        Called once per operation with the whole set (a second call for new users could
        interleave with another market's operation and deadlock). The statement starts after
        the market lock is held, so it sees every order committed before; positions need no
        row lock, only operations holding this market's lock write them."""
        reach = _Reach.of(crossing)
        (rows,) = _select_together([_lock_accounts_sql(self.market.id, user_ids, reach)])
        return self._take_accounts(rows, set(user_ids), reach)

    def _take_accounts(self, rows: list[tuple], wanted: set[str], reach: _Reach) -> set[str]:
        if self.accounts:
            raise RuntimeError("accounts must be locked in one statement per operation")
        if reach.max_bid is not None:
            self._book_reach[BookSide.ASK] = reach.max_bid
        if reach.min_ask is not None:
            self._book_reach[BookSide.BID] = reach.min_ask
        counterparties = set()
        for is_crossing, account, position in _accounts_and_positions(rows):
            self.accounts[account.user_id] = account
            if is_crossing:
                counterparties.add(account.user_id)
            if account.user_id != FEE_USER_ID:
                self._track_position(account.user_id, position)
        missing = sorted(wanted - self.accounts.keys())
        if missing:
            raise NotFound(f"no account for user {missing[0]}", code="ACCOUNT_NOT_FOUND")
        if reach.any:
            self.db_crossing_users = counterparties  # empty: matching need not read the book at all
        return counterparties

    def load_positions(self, user_ids: Iterable[str]) -> None:
        """Positions of users whose accounts came without them (lock_accounts reads its users')."""
        wanted = set(user_ids) - self.positions.keys() - {FEE_USER_ID}
        if not wanted:
            return
        found = {p.user_id: p for p in _positions(self.market.id, wanted)}
        for uid in sorted(wanted):
            self._track_position(uid, found.get(uid))

    def _track_position(self, user_id: str, position: Position | None) -> None:
        if position is None:
            self.positions[user_id] = Position(user_id=user_id, market_id=self.market.id)
            self._positions_read[user_id] = None
        else:
            self.positions[user_id] = position
            self._positions_read[user_id] = _position_values(position)

    def positions_for(self, user_id: str) -> Position:
        if user_id not in self.positions:
            self.load_positions([user_id])
        return self.positions[user_id]
