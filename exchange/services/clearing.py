"""The clearing engine: one unit of work per market operation (SPEC §3.2).

Read this module top to bottom to follow an order: `Clearing(market_id)` locks the market
row (which serializes everything that touches that market's book and positions), callers
lock the accounts they need in ONE sorted statement (`lock_accounts`, which also finds the
counterparties and reads the positions), then `place`, `cancel`, `settle`... mutate rows in
memory, and `flush` writes everything in bulk.

Lock order, always: market -> accounts (sorted by user_id, one statement) -> positions of
that market. No operation locks two markets, so two operations can never deadlock.

Freezing: a BUY freezes `remaining × (price + fee_per_share)` where fee_per_share is the
worst-case fee of one share (max of maker and taker bps, rounded up); a fill unfreezes its
share of that and pays the actual price and fee; the excess goes back to available.
A SELL freezes shares (`*_pending_sell`).

The hot path speaks SQL directly (the helpers at the end of this module), on the ORM's own
connection and transaction: compiling ORM queries cost more than running them. Rows become
model instances (`Model.from_db`) so callers get the usual Order and Trade objects.
"""
from __future__ import annotations

import heapq
import itertools
import uuid
from dataclasses import dataclass
from typing import Iterable, Iterator

from django.conf import settings
from django.db import connection
from django.utils import timezone

from exchange.enums import (
    FEE_USER_ID,
    OPEN_STATUSES,
    RESERVE_USER_ID,
    BookSide,
    BookType,
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

# Held from the first trade insert to commit, so trade ids become visible in id order and
# `GET /trades?since=` never skips a trade committed late with a smaller id (SPEC §3.6).
TRADE_FEED_LOCK_KEY = 72_010_001

SCENARIOS = {
    (BookType.NATIVE_BUY, BookType.NATIVE_SELL): TradeScenario.TRANSFER_YES,
    (BookType.NATIVE_BUY, BookType.SYNTHETIC_SELL): TradeScenario.MINT,
    (BookType.SYNTHETIC_BUY, BookType.NATIVE_SELL): TradeScenario.BURN,
    (BookType.SYNTHETIC_BUY, BookType.SYNTHETIC_SELL): TradeScenario.TRANSFER_NO,
}
# Cash entry type of a party by scenario and its own direction.
CASH_ENTRY = {
    TradeScenario.TRANSFER_YES: {Direction.BUY: E.TRANSFER_PAYMENT, Direction.SELL: E.TRANSFER_RECEIPT},
    TradeScenario.TRANSFER_NO: {Direction.BUY: E.TRANSFER_PAYMENT, Direction.SELL: E.TRANSFER_RECEIPT},
    TradeScenario.MINT: {Direction.BUY: E.MINT_COST},
    TradeScenario.BURN: {Direction.SELL: E.BURN_REVENUE},
}


def classify(side: str, direction: str, price_cents: int) -> tuple[str, str, int]:
    """(book_type, book_side, YES-view price) of a user order (SPEC §3.2 table)."""
    if side == Side.YES:
        if direction == Direction.BUY:
            return BookType.NATIVE_BUY, BookSide.BID, price_cents
        return BookType.NATIVE_SELL, BookSide.ASK, price_cents
    if direction == Direction.SELL:
        return BookType.SYNTHETIC_BUY, BookSide.BID, 100 - price_cents
    return BookType.SYNTHETIC_SELL, BookSide.ASK, 100 - price_cents


def fee_for(notional: int, bps: int) -> int:
    """ceil(notional × bps / 10000) in integer arithmetic (SPEC §3.2)."""
    return -(-notional * bps // 10_000)


def crosses(bid_price: int, ask_price: int) -> bool:
    return bid_price >= ask_price


@dataclass
class NewOrder:
    """A validated order request (the engine re-checks what depends on the market)."""

    client_order_id: str
    side: str
    direction: str
    price_cents: int
    quantity: int
    time_in_force: str = TimeInForce.GTC


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


def _farthest_prices(new_orders: Iterable[NewOrder]) -> tuple[int | None, int | None]:
    """(highest bid, lowest ask), YES view, among new orders: how far into the book they may trade."""
    max_bid = min_ask = None
    for new in new_orders:
        _, book_side, yes_price = classify(new.side, new.direction, new.price_cents)
        if book_side == BookSide.BID:
            max_bid = yes_price if max_bid is None else max(max_bid, yes_price)
        else:
            min_ask = yes_price if min_ask is None else min(min_ask, yes_price)
    return max_bid, min_ask


class Clearing:
    def __init__(self, market_id: str, *, locked: Market | None = None):
        self.market: Market = locked or _lock_market(market_id)
        if self.market is None:
            raise NotFound(f"market {market_id!r} does not exist", code="MARKET_NOT_FOUND", field="market_id")
        self.now = timezone.now()
        self.exempt = frozenset(settings.EXCHANGE_SELF_TRADE_EXEMPT_USERS)
        self.accounts: dict[str, Account] = {}
        self.positions: dict[str, Position] = {}
        self._positions_read: dict[str, tuple | None] = {}  # as read (None: no row yet), to write only changes
        self.orders: dict[uuid.UUID, Order] = {}  # every order touched, in memory
        self._new_order_ids: set[uuid.UUID] = set()
        self.trades: list[Trade] = []
        self._ledger: list[tuple] = []  # (user_id, entry_type, amount, balance_after, ref_type, ref_id | _Ref)
        self._dirty_accounts: set[str] = set()
        self._market_dirty = False
        self.db_crossing_users: set[str] | None = None  # set by lock_accounts(crossing=...)
        self._book: dict[str, _BookSide] = {}  # resting orders read so far, per book side
        self._reach: dict[str, int] = {}  # per book side: the farthest price this operation's orders may trade at

    @classmethod
    def for_own_order(cls, user_id: str, order_id: uuid.UUID) -> Clearing:
        """Lock the market of one of `user_id`'s orders (ORDER_NOT_FOUND when it is not theirs)."""
        market = _lock_market_of_order(order_id, user_id)
        if market is None:
            # Someone else's order answers exactly like a missing one: nothing leaks.
            raise NotFound(f"order {order_id} not found", code="ORDER_NOT_FOUND", field="order_id")
        return cls(market.id, locked=market)

    # --- locking -------------------------------------------------------------------
    def lock_accounts(self, user_ids: Iterable[str], *, crossing: Iterable[NewOrder] = (),
                      fee: bool = False) -> set[str]:
        """Lock every account this operation may touch, in one sorted statement, and read these
        users' positions in this market with it. The accounts are `user_ids`, the owners of
        resting orders that any of the `crossing` orders could trade with (returned: the
        counterparties, a superset), and the fee account when anything may trade (`fee`, or
        counterparties exist).

        Called once per operation with the whole set (a second call for new users could
        interleave with another market's operation and deadlock). The statement starts after
        the market lock is held, so it sees every order committed before; positions need no
        row lock, only operations holding this market's lock write them."""
        if self.accounts:
            raise RuntimeError("accounts must be locked in one statement per operation")
        max_bid, min_ask = _farthest_prices(crossing)
        if max_bid is not None:
            self._reach[BookSide.ASK] = max_bid
        if min_ask is not None:
            self._reach[BookSide.BID] = min_ask
        wanted = set(user_ids)
        counterparties = set()
        for is_crossing, account, position in _lock_accounts_and_positions(
                self.market.id, wanted, max_bid, min_ask, fee):
            self.accounts[account.user_id] = account
            if is_crossing:
                counterparties.add(account.user_id)
            if account.user_id != FEE_USER_ID:
                self._track_position(account.user_id, position)
        missing = sorted(wanted - self.accounts.keys())
        if missing:
            raise NotFound(f"no account for user {missing[0]}", code="ACCOUNT_NOT_FOUND")
        if max_bid is not None or min_ask is not None:
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

    def _resting(self, side: str, price: int, page_size: int = 200) -> Iterator[Order]:
        """Stored open orders of `side` that cross `price`, in book order, read page by page.

        Pages are kept for the rest of the operation and read as far as this operation's
        new orders may reach, so the 8 orders of a replace share one read of the book."""
        book = self._book.get(side)
        if book is None or (book.reach < price if side == BookSide.ASK else book.reach > price):
            reach = self._reach.get(side, price)
            reach = max(reach, price) if side == BookSide.ASK else min(reach, price)
            book = self._book[side] = _BookSide(reach=reach, rows=[], complete=False)
        index = 0
        while True:
            if index == len(book.rows):
                if book.complete:
                    return
                page = _resting_page(self.market.id, side, book.reach, offset=index, limit=page_size)
                book.rows += page
                book.complete = len(page) < page_size
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
                self._cash(FEE_USER_ID, E.FEE, fee, R.TRADE, ref)
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
            self._cash(FEE_USER_ID, E.FEE, fee, R.TRADE, ref)
        position.realized_pnl += notional - released
        return fee, notional - released - fee

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
            self._market_update(),
        ])

    def _insert_trades(self) -> None:
        """Trade ids must become visible in id order (the gap-free `GET /trades?since=` cursor,
        SPEC §3.6), so the trade-feed lock is taken right before the ids are drawn and held to
        commit; everything is computed by then, so the section it serializes is short."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TRADE_FEED_LOCK_KEY])
            sql, params = _insert_sql("trades", _TRADE_INSERT_COLUMNS,
                                      [[getattr(t, c) for c in _TRADE_INSERT_COLUMNS] for t in self.trades])
            cursor.execute(sql + " RETURNING id", params)
            for trade, (trade_id,) in zip(self.trades, cursor.fetchall(), strict=True):
                trade.id = trade_id

    def _orders_insert(self):
        rows = [[getattr(o, c) for c in _ORDER_COLUMNS] for oid, o in self.orders.items() if oid in self._new_order_ids]
        return _insert_sql("orders", _ORDER_COLUMNS, rows) if rows else None

    def _orders_update(self):
        return _update_sql(
            "orders", ("id", "uuid"),
            [("status", "varchar"), ("filled_quantity", "int"), ("frozen_amount", "bigint"), ("updated_at", "timestamptz")],
            [(o.id, o.status, o.filled_quantity, o.frozen_amount, self.now)
             for oid, o in self.orders.items() if oid not in self._new_order_ids],
        )

    def _changed_positions(self, *, new: bool) -> list[Position]:
        """Positions whose values moved in this operation (stored ones, or `new` ones never stored)."""
        return [p for uid, p in self.positions.items()
                if (self._positions_read[uid] is None) == new
                and _position_values(p) != (self._positions_read[uid] or _ZERO_POSITION)]

    def _positions_insert(self):
        rows = [[p.user_id, self.market.id, *_position_values(p)] for p in self._changed_positions(new=True)]
        return _insert_sql("positions", ["user_id", "market_id", *_POSITION_VALUES], rows) if rows else None

    def _positions_update(self):
        return _update_sql(
            "positions", ("id", "bigint"), [(name, "bigint") for name in _POSITION_VALUES],
            [(p.pk, *_position_values(p)) for p in self._changed_positions(new=False)],
        )

    def _accounts_update(self):
        dirty = [self.accounts[uid] for uid in sorted(self._dirty_accounts)]
        for account in dirty:
            account.version += 1
        return _update_sql(
            "accounts", ("user_id", "varchar"),
            [("available_balance", "bigint"), ("frozen_balance", "bigint"), ("version", "bigint")],
            [(a.user_id, a.available_balance, a.frozen_balance, a.version) for a in dirty],
        )

    def _ledger_insert(self):
        rows = [[user_id, self.market.id, entry_type, amount, balance_after, ref_type,
                 str(ref_id.trade.id) if isinstance(ref_id, _Ref) else ref_id, self.now]
                for user_id, entry_type, amount, balance_after, ref_type, ref_id in self._ledger]
        return _insert_sql("ledger_entries", _LEDGER_COLUMNS, rows) if rows else None

    def _market_update(self):
        if not self._market_dirty:
            return None
        m = self.market
        m.updated_at = self.now
        return ("UPDATE markets SET sequence_id = %s, reserve_balance = %s, total_yes_shares = %s, "
                "total_no_shares = %s, updated_at = %s WHERE id = %s",
                [m.sequence_id, m.reserve_balance, m.total_yes_shares, m.total_no_shares, m.updated_at, m.id])


# --- SQL -------------------------------------------------------------------------------------
# Small statements the engine runs on the ORM's connection (same transaction). Column lists
# come from the models, so a row maps onto `Model.from_db` in field order.

def _columns(model) -> list[str]:
    return [field.column for field in model._meta.concrete_fields]


_OPEN = "(" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")"
_MARKET_COLUMNS = _columns(Market)
_ORDER_COLUMNS = _columns(Order)
_ACCOUNT_COLUMNS = _columns(Account)
_POSITION_COLUMNS = _columns(Position)
_POSITION_VALUES = ["yes_volume", "yes_cost_sum", "yes_pending_sell", "no_volume", "no_cost_sum",
                    "no_pending_sell", "realized_pnl"]
_ZERO_POSITION = (0,) * len(_POSITION_VALUES)
_TRADE_INSERT_COLUMNS = [c for c in _columns(Trade) if c != "id"]
_LEDGER_COLUMNS = ["user_id", "market_id", "entry_type", "amount", "balance_after", "reference_type",
                   "reference_id", "created_at"]


def _select(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _position_values(position: Position) -> tuple:
    return (position.yes_volume, position.yes_cost_sum, position.yes_pending_sell, position.no_volume,
            position.no_cost_sum, position.no_pending_sell, position.realized_pnl)


def _lock_market(market_id: str) -> Market | None:
    """The market row, locked: it serializes every operation on this market's book and positions."""
    rows = _select(f"SELECT {', '.join(_MARKET_COLUMNS)} FROM markets WHERE id = %s FOR UPDATE", [market_id])
    return Market.from_db("default", None, rows[0]) if rows else None


def _lock_market_of_order(order_id: uuid.UUID, user_id: str) -> Market | None:
    """Like `_lock_market`, for the market of a user's order (an order never changes market)."""
    rows = _select(f"SELECT {', '.join(_MARKET_COLUMNS)} FROM markets WHERE id = "
                   "(SELECT market_id FROM orders WHERE id = %s AND user_id = %s) FOR UPDATE", [order_id, user_id])
    return Market.from_db("default", None, rows[0]) if rows else None


# The counterparties (owners of open orders on the other side within reach), the fee account
# when anything may trade, and the given users: their accounts locked in user_id order (one
# statement, so two operations lock accounts in the same order), with their positions.
_LOCK_ACCOUNTS_SQL = f"""
WITH crossing AS (
    SELECT DISTINCT user_id FROM orders
    WHERE market_id = %(market)s AND status IN {_OPEN}
      AND ((book_side = 'ASK' AND yes_price <= %(max_bid)s) OR (book_side = 'BID' AND yes_price >= %(min_ask)s))
), wanted AS (
    SELECT user_id, bool_or(is_crossing) AS is_crossing FROM (
        SELECT unnest(%(users)s::varchar[]), false
        UNION ALL SELECT user_id, true FROM crossing
        UNION ALL SELECT %(fee_user)s, false WHERE %(fee)s OR EXISTS (SELECT 1 FROM crossing)
    ) AS u (user_id, is_crossing) GROUP BY user_id
)
SELECT w.is_crossing, {", ".join("a." + c for c in _ACCOUNT_COLUMNS)}, {", ".join("p." + c for c in _POSITION_COLUMNS)}
FROM wanted w JOIN accounts a ON a.user_id = w.user_id
LEFT JOIN positions p ON p.user_id = a.user_id AND p.market_id = %(market)s
ORDER BY a.user_id
FOR UPDATE OF a
"""


def _lock_accounts_and_positions(market_id: str, user_ids: set[str], max_bid: int | None, min_ask: int | None,
                                 fee: bool) -> Iterator[tuple[bool, Account, Position | None]]:
    rows = _select(_LOCK_ACCOUNTS_SQL, {"market": market_id, "max_bid": max_bid, "min_ask": min_ask,
                                        "users": sorted(user_ids), "fee_user": FEE_USER_ID, "fee": fee})
    n = len(_ACCOUNT_COLUMNS)
    for row in rows:
        account = Account.from_db("default", None, row[1:1 + n])
        position = Position.from_db("default", None, row[1 + n:]) if row[1 + n] is not None else None
        yield row[0], account, position


def _positions(market_id: str, user_ids: set[str]) -> list[Position]:
    rows = _select(f"SELECT {', '.join(_POSITION_COLUMNS)} FROM positions WHERE market_id = %s "
                   "AND user_id = ANY(%s::varchar[])", [market_id, sorted(user_ids)])
    return [Position.from_db("default", None, row) for row in rows]


def _resting_page(market_id: str, side: str, reach: int, *, offset: int, limit: int) -> list[Order]:
    """One page of the book: open orders of `side` crossing `reach`, best price then time first."""
    if side == BookSide.ASK:
        condition, ordering = "yes_price <= %s", "yes_price, priority"
    else:
        condition, ordering = "yes_price >= %s", "yes_price DESC, priority"
    rows = _select(f"SELECT {', '.join(_ORDER_COLUMNS)} FROM orders WHERE market_id = %s AND status IN {_OPEN} "
                   f"AND book_side = %s AND {condition} ORDER BY {ordering} LIMIT %s OFFSET %s",
                   [market_id, side, reach, limit, offset])
    return [Order.from_db("default", None, row) for row in rows]


def _open_orders(market_id: str, user_id: str | None) -> list[Order]:
    sql = f"SELECT {', '.join(_ORDER_COLUMNS)} FROM orders WHERE market_id = %s AND status IN {_OPEN}"
    params = [market_id]
    if user_id is not None:
        sql += " AND user_id = %s"
        params.append(user_id)
    return [Order.from_db("default", None, row) for row in _select(sql + " ORDER BY priority", params)]


def orders_by_id(order_ids: list[uuid.UUID], *, or_user: str | None = None,
                 or_client_order_ids: list[str] = ()) -> list[Order]:
    """Orders by id, and in the same read the user's orders that use any of `or_client_order_ids`."""
    sql = f"SELECT {', '.join(_ORDER_COLUMNS)} FROM orders WHERE id = ANY(%s::uuid[])"
    params: list = [order_ids]
    if or_client_order_ids:
        sql += " OR (user_id = %s AND client_order_id = ANY(%s::varchar[]))"
        params += [or_user, list(or_client_order_ids)]
    return [Order.from_db("default", None, row) for row in _select(sql, params)]


def _insert_sql(table: str, columns: list[str], rows: list) -> tuple[str, list]:
    """`INSERT … VALUES (…), (…)`: many rows, one statement."""
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES {", ".join([row_sql] * len(rows))}'
    return sql, [value for row in rows for value in row]


def _update_sql(table: str, key: tuple[str, str], columns: list[tuple[str, str]], rows: list[tuple]):
    """One `UPDATE … FROM (VALUES …)` for many rows (Django's bulk_update builds CASE
    expressions that cost more than the round trip they save); None when there is nothing."""
    if not rows:
        return None
    names = [key[0]] + [name for name, _ in columns]
    # The first row's casts type the VALUES columns; the other rows' literals follow them.
    first = "(" + ", ".join(f"%s::{sql_type}" for sql_type in [key[1]] + [t for _, t in columns]) + ")"
    other = "(" + ", ".join(["%s"] * len(names)) + ")"
    assignments = ", ".join(f"{name} = v.{name}" for name, _ in columns)
    sql = (f"UPDATE {table} AS t SET {assignments} FROM (VALUES {', '.join([first] + [other] * (len(rows) - 1))}) "
           f"AS v({', '.join(names)}) WHERE t.{key[0]} = v.{key[0]}")
    return sql, [value for row in rows for value in row]


def _write_together(statements: list[tuple[str, list] | None]) -> None:
    """Run independent INSERT/UPDATE statements as one (data-modifying CTEs): one round trip
    and one parse for all. Each touches rows no other one touches, as the CTEs require."""
    statements = [s for s in statements if s]
    if not statements:
        return
    *first, (last_sql, last_params) = statements
    sql = "".join(f"{'WITH' if i == 0 else ','} w{i} AS ({part}) " for i, (part, _) in enumerate(first)) + last_sql
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for _, params in statements for value in params])
