"""The clearing engine: one unit of work per market operation (SPEC §3.2).

Read this module top to bottom to follow an order: `Clearing(market_id)` locks the market
row (which serializes everything that touches that market's book and positions), callers
lock the accounts they need in ONE sorted statement (`lock_accounts`), then `place`,
`cancel`, `settle`... mutate rows in memory, and `flush` writes everything in bulk.

Lock order, always: market -> accounts (sorted by user_id, one statement) -> positions of
that market. No operation locks two markets, so two operations can never deadlock.

Freezing: a BUY freezes `remaining × (price + fee_per_share)` where fee_per_share is the
worst-case fee of one share (max of maker and taker bps, rounded up); a fill unfreezes its
share of that and pays the actual price and fee; the excess goes back to available.
A SELL freezes shares (`*_pending_sell`).
"""
from __future__ import annotations

import heapq
import uuid
from dataclasses import dataclass
from typing import Iterable, Iterator

from django.conf import settings
from django.db import connection
from django.db.models import Q
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
from exchange.models import Account, LedgerEntry, Market, Order, Position, Trade

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


class Clearing:
    def __init__(self, market_id: str):
        try:
            self.market: Market = Market.objects.select_for_update().get(pk=market_id)
        except Market.DoesNotExist:
            raise NotFound(f"market {market_id!r} does not exist", code="MARKET_NOT_FOUND", field="market_id")
        self.now = timezone.now()
        self.exempt = frozenset(settings.EXCHANGE_SELF_TRADE_EXEMPT_USERS)
        self.accounts: dict[str, Account] = {}
        self.positions: dict[str, Position] = {}
        self._new_positions: list[Position] = []
        self.orders: dict[uuid.UUID, Order] = {}  # every order touched, in memory
        self._new_order_ids: set[uuid.UUID] = set()
        self.trades: list[Trade] = []
        self._ledger: list[tuple[LedgerEntry, _Ref | None]] = []
        self._dirty_accounts: set[str] = set()
        self._market_dirty = False
        self.db_crossing_users: set[str] | None = None  # set by crossing_users()

    # --- locking -------------------------------------------------------------------
    def lock_accounts(self, user_ids: Iterable[str]) -> None:
        """Lock every account this operation may touch, in one sorted statement.

        Called once per operation with the whole set (a second call for new users could
        interleave with another market's operation and deadlock)."""
        wanted = sorted(set(user_ids) - self.accounts.keys())
        if not wanted:
            return
        if self.accounts:
            raise RuntimeError("accounts must be locked in one statement per operation")
        rows = Account.objects.select_for_update().filter(user_id__in=wanted).order_by("user_id")
        for account in rows:
            self.accounts[account.user_id] = account
        missing = [uid for uid in wanted if uid not in self.accounts]
        if missing:
            raise NotFound(f"no account for user {missing[0]}", code="ACCOUNT_NOT_FOUND")

    def load_positions(self, user_ids: Iterable[str]) -> None:
        wanted = set(user_ids) - self.positions.keys() - {FEE_USER_ID}
        if not wanted:
            return
        for position in Position.objects.select_for_update().filter(market=self.market, user_id__in=wanted):
            self.positions[position.user_id] = position
        for uid in wanted - self.positions.keys():
            position = Position(user_id=uid, market=self.market)
            self.positions[uid] = position
            self._new_positions.append(position)

    def crossing_users(self, new_orders: list[NewOrder]) -> set[str]:
        """Owners of resting orders that any of `new_orders` could trade with (a superset)."""
        max_bid = min_ask = None
        for new in new_orders:
            _, book_side, yes_price = classify(new.side, new.direction, new.price_cents)
            if book_side == BookSide.BID:
                max_bid = yes_price if max_bid is None else max(max_bid, yes_price)
            else:
                min_ask = yes_price if min_ask is None else min(min_ask, yes_price)
        condition = Q(pk__in=[])
        if max_bid is not None:
            condition |= Q(book_side=BookSide.ASK, yes_price__lte=max_bid)
        if min_ask is not None:
            condition |= Q(book_side=BookSide.BID, yes_price__gte=min_ask)
        rows = Order.objects.filter(condition, market=self.market, status__in=OPEN_STATUSES)
        users = set(rows.values_list("user_id", flat=True).distinct())
        self.db_crossing_users = users  # empty: matching need not read the book at all
        return users

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

    def _append_ledger(self, user_id, entry_type, amount, balance_after, ref_type, ref_id) -> None:
        ref = ref_id if isinstance(ref_id, _Ref) else None
        entry = LedgerEntry(
            user_id=user_id,
            market=self.market,
            entry_type=entry_type,
            amount=amount,
            balance_after=balance_after,
            reference_type=ref_type,
            reference_id="" if ref else ref_id,
        )
        self._ledger.append((entry, ref))

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
        rows = Order.objects.filter(market=self.market, status__in=OPEN_STATUSES)
        if user_id is not None:
            rows = rows.filter(user_id=user_id)
        result = [self.orders.get(row.id, row) for row in rows.order_by("priority")]
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

        The market lock makes this market's orders ours alone. Orders already touched in
        this operation come from memory (their rows are stale until flush), and orders
        placed earlier in this operation (not yet in the table) are merged in by key."""
        if incoming.book_side == BookSide.BID:
            rows = Order.objects.filter(book_side=BookSide.ASK, yes_price__lte=incoming.yes_price)
            ordering, key = ("yes_price", "priority"), lambda o: (o.yes_price, o.priority)  # noqa: E731
            price_ok = lambda o: crosses(incoming.yes_price, o.yes_price)  # noqa: E731
        else:
            rows = Order.objects.filter(book_side=BookSide.BID, yes_price__gte=incoming.yes_price)
            ordering, key = ("-yes_price", "priority"), lambda o: (-o.yes_price, o.priority)  # noqa: E731
            price_ok = lambda o: crosses(o.yes_price, incoming.yes_price)  # noqa: E731
        rows = rows.filter(market=self.market, status__in=OPEN_STATUSES).order_by(*ordering)
        unflushed = sorted(
            (self.orders[oid] for oid in self._new_order_ids
             if oid != incoming.id and self.orders[oid].book_side != incoming.book_side
             and self.orders[oid].status in OPEN_STATUSES and price_ok(self.orders[oid])),
            key=key,
        )
        stream = () if self.db_crossing_users == set() else self._paged(rows)
        return heapq.merge(stream, unflushed, key=key)

    def _paged(self, rows, page_size: int = 200) -> Iterator[Order]:
        offset = 0
        while True:
            page = list(rows[offset : offset + page_size])
            for row in page:
                yield self.orders.get(row.id, row)
            if len(page) < page_size:
                return
            offset += page_size

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
        """Write every change of this operation (the caller's transaction commits it)."""
        if self.trades:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TRADE_FEED_LOCK_KEY])
            Trade.objects.bulk_create(self.trades)
        if self._new_positions:
            Position.objects.bulk_create(self._new_positions)
        new_positions = {id(p) for p in self._new_positions}
        existing = [p for p in self.positions.values() if id(p) not in new_positions]
        _update_from_values(
            "positions", "id", "bigint",
            [("yes_volume", "int"), ("yes_cost_sum", "bigint"), ("yes_pending_sell", "int"), ("no_volume", "int"),
             ("no_cost_sum", "bigint"), ("no_pending_sell", "int"), ("realized_pnl", "bigint")],
            [(p.pk, p.yes_volume, p.yes_cost_sum, p.yes_pending_sell, p.no_volume, p.no_cost_sum, p.no_pending_sell,
              p.realized_pnl) for p in existing],
        )
        new_orders = [o for oid, o in self.orders.items() if oid in self._new_order_ids]
        if new_orders:
            Order.objects.bulk_create(new_orders)
        _update_from_values(
            "orders", "id", "uuid", [("status", "varchar"), ("filled_quantity", "int"), ("frozen_amount", "bigint"),
                                     ("updated_at", "timestamptz")],
            [(o.id, o.status, o.filled_quantity, o.frozen_amount, self.now)
             for oid, o in self.orders.items() if oid not in self._new_order_ids],
        )
        dirty = [self.accounts[uid] for uid in sorted(self._dirty_accounts)]
        for account in dirty:
            account.version += 1
        _update_from_values(
            "accounts", "user_id", "varchar",
            [("available_balance", "bigint"), ("frozen_balance", "bigint"), ("version", "bigint")],
            [(a.user_id, a.available_balance, a.frozen_balance, a.version) for a in dirty],
        )
        if self._ledger:
            for entry, ref in self._ledger:
                if ref is not None:
                    entry.reference_id = str(ref.trade.id)
            LedgerEntry.objects.bulk_create([entry for entry, _ in self._ledger])
        if self._market_dirty:
            self.market.save(
                update_fields=["sequence_id", "reserve_balance", "total_yes_shares", "total_no_shares", "updated_at"]
            )


def _update_from_values(table: str, key: str, key_type: str, columns: list[tuple[str, str]], rows: list[tuple]) -> None:
    """One `UPDATE … FROM (VALUES …)` for many rows (Django's bulk_update builds CASE
    expressions that cost more than the round trip they save)."""
    if not rows:
        return
    width = len(columns) + 1
    casts = [key_type] + [sql_type for _, sql_type in columns]
    row_sql = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    names = ", ".join([key] + [name for name, _ in columns])
    assignments = ", ".join(f"{name} = v.{name}" for name, _ in columns)
    sql = (f"UPDATE {table} AS t SET {assignments} FROM (VALUES {', '.join([row_sql] * len(rows))}) "
           f"AS v({names}) WHERE t.{key} = v.{key}")
    params = [value for row in rows for value in row]
    assert len(params) == width * len(rows)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
