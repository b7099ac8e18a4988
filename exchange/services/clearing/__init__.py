"""The clearing engine: one unit of work per market operation (SPEC §3.2).

Read this module top to bottom to follow an order: `Clearing(market_id, users=...,
crossing=...)` locks the market row (which serializes everything that touches that market's
book and positions) and, in the same round trip, the accounts the operation may touch in ONE
sorted statement: the callers' and the counterparties', read with their positions
(`lock_accounts` does this step alone). Then `place`, `cancel`, `settle`... mutate rows in
memory, and `flush` writes everything in bulk.

Lock order, always: market -> accounts (sorted by user_id, one statement) -> positions of
that market. No operation locks two markets, so two operations can never deadlock. The fee
account is not among the accounts: trades credit it at flush, after taking the trade-feed
lock (see `_fee_credit`).

Freezing: a BUY freezes `remaining × (price + fee_per_share)` where fee_per_share is the
worst-case fee of one share (max of maker and taker bps, rounded up); a fill unfreezes its
share of that and pays the actual price and fee; the excess goes back to available.
A SELL freezes shares (`*_pending_sell`).

The hot path speaks SQL directly (`reads`, and the writes at the end of this module), on the
ORM's own connection and transaction: compiling ORM queries cost more than running them. Rows
become model instances (`Model.from_db`) so callers get the usual Order and Trade objects.
"""
from __future__ import annotations

import heapq
import itertools
import json
import uuid
from dataclasses import dataclass
from typing import Iterable, Iterator

from django.conf import settings
from django.utils import timezone

from exchange.enums import (
    FEE_USER_ID,
    OPEN_STATUSES,
    RESERVE_USER_ID,
    BookSide,
    Direction,
    FrozenAssetType,
    LedgerEntryType as E,
    MarketStatus,
    OrderStatus,
    ReferenceType as R,
    Side,
    TimeInForce,
    TradeScenario,
)
from exchange.exceptions import Insufficient, InvalidInput, NotFound, WrongState
from exchange.models import Account, Market, Order, Position, Trade
from exchange.services.clearing.reads import (
    _ORDER_COLUMNS,
    BOOK_PAGE,
    OrderLookup,
    _accounts_and_positions,
    _lock_accounts_sql,
    _lock_market_of_order_sql,
    _lock_market_sql,
    _open_orders,
    _orders_sql,
    _positions,
    _Reach,
    _resting_page_sql,
)
from exchange.services.clearing.rules import CASH_ENTRY, SCENARIOS, NewOrder, classify, crosses, fee_for
from exchange.services.trade_feed import trades_announce_on_commit
from exchange.sql import columns as _columns
from exchange.sql import cursor as _cursor
from exchange.sql import select_together as _select_together

# Held from the first trade insert to commit, so trade ids become visible in id order and
# `GET /trades?since=` never skips a trade committed late with a smaller id (SPEC §3.6).
TRADE_FEED_LOCK_KEY = 72_010_001

@dataclass
class _Ref:
    """A ledger reference to a trade whose id is known only after its insert."""

    trade: Trade


@dataclass
class _BookSide:
    """Resting orders of one book side read so far in this operation, in book order."""

    reach: int  # they are every open order that crosses this price (YES view)
    rows: list[Order]
    complete: bool  # False: more crossing orders are stored than were read (read the next page)



class Clearing:
    def __init__(self, market_id: str | None = None, *, own_order: tuple[str, uuid.UUID] | None = None,
                 users: Iterable[str] | None = None, crossing: Iterable[NewOrder] = (),
                 orders: OrderLookup | None = None):
        """Lock the market row: by id, or the market of `own_order` (user_id, order_id), which
        answers ORDER_NOT_FOUND unless the order is that user's.

        With `users`, in the same round trip: read `orders` (then `read_orders`), lock the
        accounts (what `lock_accounts` does) and read the book within reach of `crossing`. The
        statements are sent together but run one after the other, so each starts once the
        market lock is held and sees every order committed before it."""
        self.now = timezone.now()
        self.exempt = frozenset(settings.EXCHANGE_SELF_TRADE_EXEMPT_USERS)
        self.accounts: dict[str, Account] = {}
        self.positions: dict[str, Position] = {}
        self._positions_read: dict[str, tuple | None] = {}  # as read (None: no row yet), to write only changes
        self.orders: dict[uuid.UUID, Order] = {}  # every order touched, in memory
        self._new_order_ids: set[uuid.UUID] = set()
        self.trades: list[Trade] = []
        self._ledger: list[tuple] = []  # (user_id, entry_type, amount, balance_after, ref_type, ref_id | _Ref)
        self._fees: list[tuple[int, _Ref]] = []  # (amount, trade) owed to the fee account, credited at flush
        self._dirty_accounts: set[str] = set()
        self._market_dirty = False
        self.db_crossing_users: set[str] | None = None  # set by lock_accounts(crossing=...)
        self._book: dict[str, _BookSide] = {}  # resting orders read so far, per book side
        self._book_reach: dict[str, int] = {}  # per book side: the farthest price this operation's orders may trade at
        self.read_orders: list[Order] = []

        statements = [_lock_market_sql(market_id) if own_order is None else _lock_market_of_order_sql(*own_order)]
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

        rows = next(results)
        if not rows:
            if own_order is not None:
                # Someone else's order answers exactly like a missing one: nothing leaks.
                raise NotFound(f"order {own_order[1]} not found", code="ORDER_NOT_FOUND", field="order_id")
            raise NotFound(f"market {market_id!r} does not exist", code="MARKET_NOT_FOUND", field="market_id")
        self.market: Market = Market.from_db("default", None, rows[0])
        if users is not None:
            if orders is not None:
                self.read_orders = [Order.from_db("default", None, row) for row in next(results)]
            self._take_accounts(next(results), set(users), reach)
            for side, price in ((BookSide.ASK, reach.max_bid), (BookSide.BID, reach.min_ask)):
                if price is not None:
                    page = [Order.from_db("default", None, row) for row in next(results)]
                    self._book[side] = _BookSide(reach=price, rows=page, complete=len(page) < BOOK_PAGE)

    # --- locking -------------------------------------------------------------------
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

    # --- cash and reserve movements --------------------------------------------------
    def _cash(self, user_id: str, entry_type: str, amount: int, ref_type: str, ref_id: str | _Ref) -> None:
        account = self.accounts[user_id]
        account.available_balance += amount
        self._dirty_accounts.add(user_id)
        self._append_ledger(user_id, entry_type, amount, account.available_balance, ref_type, ref_id)

    def _freeze(self, user_id: str, amount: int, order: Order) -> None:
        account = self.accounts[user_id]
        if account.available_balance < amount:
            raise Insufficient(
                f"order needs {amount} cents available, account has {account.available_balance}",
                code="INSUFFICIENT_FUNDS",
            )
        account.frozen_balance += amount
        self._cash(user_id, E.ORDER_FREEZE, -amount, R.ORDER, str(order.id))

    def _unfreeze(self, user_id: str, amount: int, ref_type: str, ref_id: str | _Ref) -> None:
        if amount == 0:
            return
        self.accounts[user_id].frozen_balance -= amount
        self._cash(user_id, E.ORDER_UNFREEZE, amount, ref_type, ref_id)

    def _reserve(self, entry_type: str, amount: int, ref_type: str, ref_id: str | _Ref) -> None:
        self.market.reserve_balance += amount
        self._market_dirty = True
        self._append_ledger(RESERVE_USER_ID, entry_type, amount, self.market.reserve_balance, ref_type, ref_id)

    def _append_ledger(self, user_id, entry_type, amount, balance_after, ref_type, ref_id: str | _Ref) -> None:
        """One ledger line (a trade's id is filled in at flush, once the trade is inserted)."""
        self._ledger.append((user_id, entry_type, amount, balance_after, ref_type, ref_id))

    def _next_sequence(self) -> int:
        self.market.sequence_id += 1
        self._market_dirty = True
        return self.market.sequence_id

    # --- orders ------------------------------------------------------------------------
    def require_active(self) -> None:
        if self.market.status != MarketStatus.ACTIVE:
            raise WrongState(
                f"market {self.market.id} is {self.market.status}, not ACTIVE", code="MARKET_NOT_ACTIVE"
            )

    def check_price(self, price_cents: int, field: str = "price_cents") -> None:
        lo, hi = self.market.min_price_cents, self.market.max_price_cents
        if not lo <= price_cents <= hi:
            raise InvalidInput(
                f"price_cents {price_cents} outside the market's band [{lo}, {hi}]",
                code="PRICE_OUT_OF_RANGE",
                field=field,
            )

    def fee_per_share(self, price_cents: int) -> int:
        return fee_for(price_cents, max(self.market.maker_fee_bps, self.market.taker_fee_bps))

    def place(self, user_id: str, new: NewOrder) -> Order:
        """Fund, match (price-time, maker price), rest or cancel the remainder (IOC)."""
        self.check_price(new.price_cents)
        book_type, book_side, yes_price = classify(new.side, new.direction, new.price_cents)
        order = Order(
            id=uuid.uuid4(),
            client_order_id=new.client_order_id,
            user_id=user_id,
            market=self.market,
            original_side=new.side,
            original_direction=new.direction,
            book_type=book_type,
            book_side=book_side,
            price_cents=new.price_cents,
            yes_price=yes_price,
            quantity=new.quantity,
            time_in_force=new.time_in_force,
            status=OrderStatus.OPEN,
            priority=self._next_sequence(),
            created_at=self.now,
            updated_at=self.now,
        )
        if new.direction == Direction.BUY:
            order.frozen_asset_type = FrozenAssetType.CASH
            order.frozen_amount = new.quantity * (new.price_cents + self.fee_per_share(new.price_cents))
            self._freeze(user_id, order.frozen_amount, order)
        else:
            position = self.positions[user_id]
            if new.side == Side.YES:
                available, order.frozen_asset_type = position.yes_available, FrozenAssetType.YES_SHARES
            else:
                available, order.frozen_asset_type = position.no_available, FrozenAssetType.NO_SHARES
            if available < new.quantity:
                raise Insufficient(
                    f"sell of {new.quantity} {new.side} needs that many available shares, position has {available}",
                    code="INSUFFICIENT_SHARES",
                )
            self._pending(position, new.side, new.quantity)
            order.frozen_amount = new.quantity
        self.orders[order.id] = order
        self._new_order_ids.add(order.id)
        self._match(order)
        if order.remaining_quantity > 0 and order.time_in_force == TimeInForce.IOC:
            self._release(order)
            order.status = OrderStatus.CANCELLED
        return order

    def cancel(self, order: Order) -> Order:
        if order.status not in OPEN_STATUSES:
            raise WrongState(f"order {order.id} is {order.status}, no longer open", code="ORDER_NOT_OPEN")
        self.orders.setdefault(order.id, order)
        self._release(order)
        order.status = OrderStatus.CANCELLED
        order.updated_at = self.now
        self._next_sequence()
        return order

    def open_orders(self, *, user_id: str | None = None) -> list[Order]:
        """Open orders of this market (optionally one user's), in-memory versions first."""
        result = [self.orders.get(row.id, row) for row in _open_orders(self.market.id, user_id)]
        seen = {o.id for o in result}
        result += [o for oid, o in self.orders.items() if oid not in seen and o.status in OPEN_STATUSES
                   and (user_id is None or o.user_id == user_id)]
        return [o for o in result if o.status in OPEN_STATUSES]

    def _pending(self, position: Position, side: str, delta: int) -> None:
        if side == Side.YES:
            position.yes_pending_sell += delta
        else:
            position.no_pending_sell += delta

    def _release(self, order: Order) -> None:
        """Give back what an order still holds frozen (cancel, IOC remainder)."""
        if order.frozen_asset_type == FrozenAssetType.CASH:
            self._unfreeze(order.user_id, order.frozen_amount, R.ORDER, str(order.id))
        else:
            self._pending(self.positions_for(order.user_id), order.original_side, -order.frozen_amount)
        order.frozen_amount = 0

    def positions_for(self, user_id: str) -> Position:
        if user_id not in self.positions:
            self.load_positions([user_id])
        return self.positions[user_id]

    # --- matching ------------------------------------------------------------------------
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
        for user_id in {bid.user_id, ask.user_id}:
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

    def _credit_fee(self, amount: int, ref: _Ref) -> None:
        if FEE_USER_ID in self.accounts:  # the fee account itself trades: it is locked like any party
            self._cash(FEE_USER_ID, E.FEE, amount, R.TRADE, ref)
        else:
            self._fees.append((amount, ref))  # credited at flush (`_fee_credit`)

    def _reduce(self, position: Position, side: str, quantity: int, *, pending: bool) -> int:
        """Remove shares at weighted-average cost (seed §4.1); returns the cost released."""
        if side == Side.YES:
            released = position.yes_cost_sum * quantity // position.yes_volume
            position.yes_cost_sum -= released
            position.yes_volume -= quantity
            if pending:
                position.yes_pending_sell -= quantity
        else:
            released = position.no_cost_sum * quantity // position.no_volume
            position.no_cost_sum -= released
            position.no_volume -= quantity
            if pending:
                position.no_pending_sell -= quantity
        return released

    def _shares(self, delta: int) -> None:
        self.market.total_yes_shares += delta
        self.market.total_no_shares += delta
        self._market_dirty = True

    def _net(self, user_id: str, ref: _Ref) -> None:
        """Burn a user's matched available pairs back into cash, unless netting is off (seed §3.3)."""
        account = self.accounts.get(user_id)
        if account is None or not account.auto_netting_enabled:
            return
        position = self.positions_for(user_id)
        pairs = min(position.yes_available, position.no_available)
        if pairs <= 0:
            return
        released = self._reduce(position, Side.YES, pairs, pending=False)
        released += self._reduce(position, Side.NO, pairs, pending=False)
        self._cash(user_id, E.BURN_REVENUE, 100 * pairs, R.NETTING, ref)
        self._reserve(E.BURN_RESERVE_OUT, -100 * pairs, R.NETTING, ref)
        self._shares(-pairs)
        position.realized_pnl += 100 * pairs - released

    # --- privileged mint/burn (the AMM) ---------------------------------------------------
    def mint(self, user_id: str, quantity: int, request_id: str) -> None:
        """Mint `quantity` pairs for 100 cents each; cost split 50/50 (SPEC §3.6)."""
        cost = 100 * quantity
        account = self.accounts[user_id]
        if account.available_balance < cost:
            raise Insufficient(
                f"mint of {quantity} pairs needs {cost} cents, account has {account.available_balance}",
                code="INSUFFICIENT_FUNDS",
            )
        self._cash(user_id, E.MINT_COST, -cost, R.AMM_MINT, request_id)
        self._reserve(E.MINT_RESERVE_IN, cost, R.AMM_MINT, request_id)
        position = self.positions_for(user_id)
        position.yes_volume += quantity
        position.no_volume += quantity
        position.yes_cost_sum += 50 * quantity
        position.no_cost_sum += 50 * quantity
        self._shares(quantity)

    def burn(self, user_id: str, quantity: int, request_id: str) -> None:
        position = self.positions_for(user_id)
        available = min(position.yes_available, position.no_available)
        if available < quantity:
            raise Insufficient(
                f"burn of {quantity} pairs needs that many available YES and NO, position has {available} pairs",
                code="INSUFFICIENT_SHARES",
            )
        released = self._reduce(position, Side.YES, quantity, pending=False)
        released += self._reduce(position, Side.NO, quantity, pending=False)
        self._cash(user_id, E.BURN_REVENUE, 100 * quantity, R.AMM_BURN, request_id)
        self._reserve(E.BURN_RESERVE_OUT, -100 * quantity, R.AMM_BURN, request_id)
        self._shares(-quantity)
        position.realized_pnl += 100 * quantity - released

    # --- settlement and voiding -----------------------------------------------------------
    def holders(self) -> list[Position]:
        return [p for p in self.positions.values() if p.yes_volume or p.no_volume]

    def settle(self, outcome: str) -> None:
        """Pay 100 cents per winning share from the reserve; close every position."""
        ref = self.market.id
        for position in sorted(self.holders(), key=lambda p: p.user_id):
            winners = position.yes_volume if outcome == Side.YES else position.no_volume
            payout = 100 * winners
            cost = position.yes_cost_sum + position.no_cost_sum
            if payout:
                self._cash(position.user_id, E.SETTLEMENT_PAYOUT, payout, R.SETTLEMENT, ref)
                self._reserve(E.SETTLEMENT_RESERVE_OUT, -payout, R.SETTLEMENT, ref)
            self._close(position, payout - cost)
        self.close_all()

    def void(self) -> None:
        """Refund positions at cost. When trading has moved money between holders the total
        cost basis differs from the reserve; then the whole reserve is shared in proportion
        to cost basis (largest remainder to the cent), so custody ends at exactly zero."""
        holders = sorted(self.holders(), key=lambda p: p.user_id)
        reserve = self.market.reserve_balance
        weights = [p.yes_cost_sum + p.no_cost_sum for p in holders]
        if sum(weights) == 0:
            weights = [p.yes_volume + p.no_volume for p in holders]
        total = sum(weights)
        refunds = [reserve * w // total for w in weights] if total else [0] * len(holders)
        shortfall = reserve - sum(refunds)
        by_remainder = sorted(range(len(holders)), key=lambda i: (-(reserve * weights[i] % total) if total else 0, i))
        for i in by_remainder[:shortfall]:
            refunds[i] += 1
        for position, refund in zip(holders, refunds):
            cost = position.yes_cost_sum + position.no_cost_sum
            if refund:
                self._cash(position.user_id, E.VOID_REFUND, refund, R.SETTLEMENT, self.market.id)
                self._reserve(E.VOID_RESERVE_OUT, -refund, R.SETTLEMENT, self.market.id)
            self._close(position, refund - cost)
        self.close_all()

    def close_all(self) -> None:
        """After settle/void every position is closed, so no share of this market exists."""
        self.market.total_yes_shares = self.market.total_no_shares = 0
        self._market_dirty = True

    def _close(self, position: Position, realized: int) -> None:
        position.realized_pnl += realized
        position.yes_volume = position.no_volume = 0
        position.yes_cost_sum = position.no_cost_sum = 0
        position.yes_pending_sell = position.no_pending_sell = 0

    # --- flush -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write every change of this operation (the caller's transaction commits it): the
        trades first (the ledger refers to their ids), then every other change in one statement."""
        if self.trades:
            self._insert_trades()
        _write_together([
            self._orders_insert(),
            self._orders_update(),
            self._positions_insert(),
            self._positions_update(),
            self._accounts_update(),
            self._ledger_insert(),
            *self._fee_credit(),
            self._market_update(),
        ])

    def _insert_trades(self) -> None:
        """Trade ids must become visible in id order (the gap-free `GET /trades?since=` cursor,
        SPEC §3.6), so the trade-feed lock is taken right before the ids are drawn and held to
        commit; everything is computed by then, so the section it serializes is short."""
        with _cursor() as cursor:
            cursor.execute(_INSERT_TRADES_SQL, [TRADE_FEED_LOCK_KEY, _as_json(
                _TRADE_INSERT_COLUMNS, [[getattr(t, c) for c in _TRADE_INSERT_COLUMNS] for t in self.trades])])
            for trade, (trade_id,) in zip(self.trades, cursor.fetchall(), strict=True):
                trade.id = trade_id
        trades_announce_on_commit(u for t in self.trades for u in (t.buy_user_id, t.sell_user_id))

    def _orders_insert(self):
        return _insert_rows("orders", _ORDER_COLUMNS, [
            [getattr(o, c) for c in _ORDER_COLUMNS] for oid, o in self.orders.items() if oid in self._new_order_ids])

    def _orders_update(self):
        return _update_rows("orders", "uuid", ["id", "status", "filled_quantity", "frozen_amount", "updated_at"], [
            [o.id, o.status, o.filled_quantity, o.frozen_amount, self.now]
            for oid, o in self.orders.items() if oid not in self._new_order_ids])

    def _changed_positions(self, *, new: bool) -> list[Position]:
        """Positions whose values moved in this operation (stored ones, or `new` ones never stored)."""
        return [p for uid, p in self.positions.items()
                if (self._positions_read[uid] is None) == new
                and _position_values(p) != (self._positions_read[uid] or _ZERO_POSITION)]

    def _positions_insert(self):
        return _insert_rows("positions", ["user_id", "market_id", *_POSITION_VALUES], [
            [p.user_id, self.market.id, *_position_values(p)] for p in self._changed_positions(new=True)])

    def _positions_update(self):
        return _update_rows("positions", "bigint", ["id", *_POSITION_VALUES], [
            [p.pk, *_position_values(p)] for p in self._changed_positions(new=False)])

    def _accounts_update(self):
        dirty = [self.accounts[uid] for uid in sorted(self._dirty_accounts)]
        for account in dirty:
            account.version += 1
        return _update_rows("accounts", "varchar", ["user_id", "available_balance", "frozen_balance", "version"], [
            [a.user_id, a.available_balance, a.frozen_balance, a.version] for a in dirty])

    def _ledger_insert(self):
        return _insert_rows("ledger_entries", _LEDGER_COLUMNS, [
            [user_id, self.market.id, entry_type, amount, balance_after, ref_type,
             str(ref_id.trade.id) if isinstance(ref_id, _Ref) else ref_id, self.now]
            for user_id, entry_type, amount, balance_after, ref_type, ref_id in self._ledger])

    def _fee_credit(self) -> list[tuple]:
        """The fees of this operation's trades, credited to the fee account (with its ledger
        lines) only here. Every trade pays fees: locking that one row with the other accounts
        held it for a whole operation and serialized trading in all markets. Here the trades
        are inserted already, so the trade-feed lock is held: it serializes this tail anyway,
        no one waits for the row, and whoever holds the row waits for nothing but its commit."""
        if not self._fees:
            return []
        amounts = [amount for amount, _ in self._fees]
        total = sum(amounts)
        rows = [[FEE_USER_ID, self.market.id, E.FEE, amount, after, R.TRADE, str(ref.trade.id), self.now]
                for (amount, ref), after in zip(self._fees, itertools.accumulate(amounts))]
        credit = ("UPDATE accounts SET available_balance = available_balance + %s, version = version + 1 "
                  "WHERE user_id = %s RETURNING available_balance - %s AS balance_before", [total, FEE_USER_ID, total],
                  "fee_account")
        # balance_after arrives as the running total of this operation's fees; the balance it
        # starts from is the row's (NULL, so refused by NOT NULL, if the fee account is missing).
        columns = ", ".join(_LEDGER_COLUMNS)
        values = ", ".join("(SELECT balance_before FROM fee_account) + v.balance_after" if c == "balance_after"
                           else f"v.{c}" for c in _LEDGER_COLUMNS)
        lines = (f"INSERT INTO ledger_entries ({columns}) SELECT {values} FROM {_JSON_ROWS.format(table='ledger_entries')}",
                 [_as_json(_LEDGER_COLUMNS, rows), len(rows)])
        return [credit, lines]

    def _market_update(self):
        if not self._market_dirty:
            return None
        m = self.market
        m.updated_at = self.now
        return ("UPDATE markets SET sequence_id = %s, reserve_balance = %s, total_yes_shares = %s, "
                "total_no_shares = %s, updated_at = %s WHERE id = %s",
                [m.sequence_id, m.reserve_balance, m.total_yes_shares, m.total_no_shares, m.updated_at, m.id])


_POSITION_VALUES = ["yes_volume", "yes_cost_sum", "yes_pending_sell", "no_volume", "no_cost_sum",
                    "no_pending_sell", "realized_pnl"]
_ZERO_POSITION = (0,) * len(_POSITION_VALUES)
_TRADE_INSERT_COLUMNS = [c for c in _columns(Trade) if c != "id"]
_LEDGER_COLUMNS = ["user_id", "market_id", "entry_type", "amount", "balance_after", "reference_type",
                   "reference_id", "created_at"]


def _position_values(position: Position) -> tuple:
    return (position.yes_volume, position.yes_cost_sum, position.yes_pending_sell, position.no_volume,
            position.no_cost_sum, position.no_pending_sell, position.realized_pnl)


# Many rows travel as ONE json parameter, expanded by json_populate_recordset into the
# table's own row type: quoting one parameter per value (client-side binding) cost more than
# running the statement, and the statement text stays the same (psycopg caches its parsing).

# LIMIT tells the planner how many rows come (it assumes 100 for a function), so an UPDATE
# looks its rows up by index instead of hashing the whole table.
_JSON_ROWS = "(SELECT * FROM json_populate_recordset(NULL::{table}, %s) LIMIT %s) AS v"


def _as_json(columns: list[str], rows: list[list]) -> str:
    return json.dumps([dict(zip(columns, row)) for row in rows], default=str)  # default: uuid, datetime


# The trade-feed lock is taken inside the INSERT, in one round trip: ids are drawn for the
# rows the join yields, and it yields none before the lock is granted. Rows go in (and ids
# come back) in list order.
_INSERT_TRADES_SQL = (
    f'INSERT INTO "trades" ({", ".join(_TRADE_INSERT_COLUMNS)}) '
    f'SELECT {", ".join("v." + c for c in _TRADE_INSERT_COLUMNS)} '
    "FROM (SELECT pg_advisory_xact_lock(%s)) AS feed_lock, json_populate_recordset(NULL::trades, %s) AS v "
    "RETURNING id"
)


def _insert_rows(table: str, columns: list[str], rows: list[list]):
    """INSERT of many rows at once; None when there is nothing to insert."""
    if not rows:
        return None
    names = ", ".join(columns)
    return (f"INSERT INTO {table} ({names}) SELECT {names} FROM {_JSON_ROWS.format(table=table)}",
            [_as_json(columns, rows), len(rows)])


def _update_rows(table: str, key_type: str, columns: list[str], rows: list[list]):
    """UPDATE of many rows at once, matched on the first column (of SQL type `key_type`);
    None when there is nothing. The keys also come as an array, so that the rows are found
    by index even in a plan made for any number of them (a prepared statement's)."""
    if not rows:
        return None
    key, *values = columns
    assignments = ", ".join(f"{name} = v.{name}" for name in values)
    return (f"UPDATE {table} AS t SET {assignments} FROM {_JSON_ROWS.format(table=table)} "
            f"WHERE t.{key} = v.{key} AND t.{key} = ANY(%s::{key_type}[])",
            [_as_json(columns, rows), len(rows), [row[0] for row in rows]])


def _write_together(statements: list[tuple | None]) -> None:
    """Run INSERT/UPDATE statements as one (data-modifying CTEs): one round trip and one parse
    for all. Each touches rows no other one touches, as the CTEs require; they see each other
    only through RETURNING, by the name given as a statement's third element."""
    statements = [s for s in statements if s]
    if not statements:
        return
    *first, last = statements
    sql = "".join(f"{'WITH' if i == 0 else ','} {part[2] if len(part) > 2 else f'w{i}'} AS ({part[0]}) "
                  for i, part in enumerate(first)) + last[0]
    with _cursor() as cursor:
        cursor.execute(sql, [value for part in statements for value in part[1]])
