"""Matching (SPEC §3.2, §3.3): the resting orders an incoming order crosses, best price then
time first; each fill cleared at the maker's price, both parties' cash, shares and fees moved,
then both parties' pairs netted."""
from __future__ import annotations

import heapq
import itertools
from typing import Iterator

from exchange.enums import (
    OPEN_STATUSES,
    BookSide,
    Direction,
    LedgerEntryType as E,
    OrderStatus,
    ReferenceType as R,
    Side,
    TradeScenario,
)
from exchange.models import Order, Trade
from exchange.services.clearing.reads import BOOK_PAGE, _resting_page_sql
from exchange.services.clearing.rules import CASH_ENTRY, SCENARIOS, crosses, fee_for
from exchange.services.clearing.state import ClearingState, _BookSide, _Ref
from exchange.sql import select_together as _select_together


class Matching(ClearingState):
    """Reads the book, clears fills through `Ledger`, nets through `Pairs`."""

    def _candidates(self, incoming: Order) -> Iterator[Order]:
        """Resting orders that cross `incoming`, best price first, then time priority.

        The market lock makes this market's orders ours alone. Stored orders are read once
        per operation and side (`_resting`); orders already touched in this operation come
        from memory (their rows are stale until flush), and orders placed earlier in this
        operation (not yet in the table) are merged in by key."""
        if incoming.book_side == BookSide.BID:
            side, key = BookSide.ASK, lambda o: (o.yes_price, o.priority)  # noqa: E731
            price_ok = lambda o: crosses(incoming.yes_price, o.yes_price)  # noqa: E731
        else:
            side, key = BookSide.BID, lambda o: (-o.yes_price, o.priority)  # noqa: E731
            price_ok = lambda o: crosses(o.yes_price, incoming.yes_price)  # noqa: E731
        unflushed = sorted(
            (self.orders[oid] for oid in self._new_order_ids
             if oid != incoming.id and self.orders[oid].book_side != incoming.book_side
             and self.orders[oid].status in OPEN_STATUSES and price_ok(self.orders[oid])),
            key=key,
        )
        if self.db_crossing_users == set():
            return iter(unflushed)
        stored = itertools.takewhile(price_ok, self._resting(side, incoming.yes_price))
        return heapq.merge(stored, unflushed, key=key)

    def _resting(self, side: str, price: int) -> Iterator[Order]:
        """Stored open orders of `side` that cross `price`, in book order, read page by page.

        Pages are kept for the rest of the operation and read as far as this operation's
        new orders may reach, so the 8 orders of a replace share one read of the book."""
        book = self._book.get(side)
        if book is None or (book.reach < price if side == BookSide.ASK else book.reach > price):
            reach = self._book_reach.get(side, price)
            reach = max(reach, price) if side == BookSide.ASK else min(reach, price)
            book = self._book[side] = _BookSide(reach=reach, rows=[], complete=False)
        index = 0
        while True:
            if index == len(book.rows):
                if book.complete:
                    return
                (rows,) = _select_together([_resting_page_sql(self.market.id, side, book.reach, offset=index)])
                book.rows += [Order.from_db("default", None, row) for row in rows]
                book.complete = len(rows) < BOOK_PAGE
                continue
            row = book.rows[index]
            index += 1
            yield self.orders.get(row.id, row)

    def _match(self, incoming: Order) -> None:
        for resting in self._candidates(incoming):
            if incoming.remaining_quantity == 0:
                break
            if resting.status not in OPEN_STATUSES or resting.remaining_quantity == 0:
                continue
            if resting.user_id == incoming.user_id and incoming.user_id not in self.exempt:
                continue  # self-trade prevention: skip own resting orders (SPEC §3.3)
            if resting.user_id not in self.accounts:
                raise RuntimeError(f"account of resting order {resting.id} was not locked")
            self.orders.setdefault(resting.id, resting)
            quantity = min(incoming.remaining_quantity, resting.remaining_quantity)
            if incoming.book_side == BookSide.BID:
                self._execute(bid=incoming, ask=resting, quantity=quantity, maker=resting)
            else:
                self._execute(bid=resting, ask=incoming, quantity=quantity, maker=resting)

    def _execute(self, *, bid: Order, ask: Order, quantity: int, maker: Order) -> Trade:
        """Clear one fill of `quantity` at the maker's YES-view price (SPEC §3.2)."""
        price = maker.yes_price
        scenario = SCENARIOS[(bid.book_type, ask.book_type)]
        trade = Trade(
            market=self.market,
            scenario=scenario,
            buy_order_id=bid.id,
            sell_order_id=ask.id,
            buy_user_id=bid.user_id,
            sell_user_id=ask.user_id,
            maker_order_id=maker.id,
            taker_order_id=(ask if maker is bid else bid).id,
            price_cents=price,
            quantity=quantity,
            executed_at=self.now,
        )
        ref = _Ref(trade)
        realized = {}
        for order in (ask, bid):
            is_maker = order is maker
            bps = self.market.maker_fee_bps if is_maker else self.market.taker_fee_bps
            own_price = price if order.original_side == Side.YES else 100 - price
            fee, pnl = self._fill_party(order, scenario, own_price, quantity, bps, ref)
            if is_maker:
                trade.maker_fee = fee
            else:
                trade.taker_fee = fee
            realized[order.id] = pnl
        trade.buy_realized_pnl = realized[bid.id]
        trade.sell_realized_pnl = realized[ask.id]
        if scenario == TradeScenario.MINT:
            self._reserve(E.MINT_RESERVE_IN, 100 * quantity, R.TRADE, ref)
            self._shares(quantity)
        elif scenario == TradeScenario.BURN:
            self._reserve(E.BURN_RESERVE_OUT, -100 * quantity, R.TRADE, ref)
            self._shares(-quantity)
        self.trades.append(trade)
        self._next_sequence()
        for user_id in dict.fromkeys((bid.user_id, ask.user_id)):  # bid first: the same ledger order in every process
            self._net(user_id, ref)
        return trade

    def _fill_party(self, order: Order, scenario: str, own_price: int, quantity: int, bps: int, ref: _Ref):
        """Move one party's cash, shares and cost basis; returns (fee, realized pnl or None)."""
        notional = own_price * quantity
        fee = fee_for(notional, bps)
        position = self.positions_for(order.user_id)
        remaining_before = order.remaining_quantity
        order.filled_quantity += quantity
        order.status = OrderStatus.FILLED if order.remaining_quantity == 0 else OrderStatus.PARTIALLY_FILLED
        order.updated_at = self.now
        entry_type = CASH_ENTRY[scenario][order.original_direction]
        if order.original_direction == Direction.BUY:
            per_share = order.frozen_amount // remaining_before  # exact: price + fee_per_share
            fee = min(fee, (per_share - order.price_cents) * quantity)  # never more than was reserved
            keep = per_share * order.remaining_quantity
            self._unfreeze(order.user_id, order.frozen_amount - keep, R.TRADE, ref)
            order.frozen_amount = keep
            self._cash(order.user_id, entry_type, -notional, R.TRADE, ref)
            if fee:
                self._cash(order.user_id, E.FEE, -fee, R.TRADE, ref)
                self._credit_fee(fee, ref)
            if order.original_side == Side.YES:
                position.yes_volume += quantity
                position.yes_cost_sum += notional
            else:
                position.no_volume += quantity
                position.no_cost_sum += notional
            return fee, None
        order.frozen_amount -= quantity
        released = self._reduce(position, order.original_side, quantity, pending=True)
        self._cash(order.user_id, entry_type, notional, R.TRADE, ref)
        if fee:
            self._cash(order.user_id, E.FEE, -fee, R.TRADE, ref)
            self._credit_fee(fee, ref)
        position.realized_pnl += notional - released
        return fee, notional - released - fee
