"""The state of one clearing operation: the rows it locked and read and what it changed, in
memory until `flush` writes them. Each concern of the engine is a mixin over this one object
(composed in `engine.Clearing`)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.utils import timezone

from exchange.conf import exchange_settings
from exchange.models import Account, Market, Order, Position, Trade


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


# A position's values as an operation tracks them: recorded as read, compared at flush so that
# only changed positions are written, and written in this column order.
_POSITION_VALUES = ["yes_volume", "yes_cost_sum", "yes_pending_sell", "no_volume", "no_cost_sum",
                    "no_pending_sell", "realized_pnl"]
_ZERO_POSITION = (0,) * len(_POSITION_VALUES)


def _position_values(position: Position) -> tuple:
    return (position.yes_volume, position.yes_cost_sum, position.yes_pending_sell, position.no_volume,
            position.no_cost_sum, position.no_pending_sell, position.realized_pnl)


def _market_values(market: Market) -> tuple:
    """What makes a market event when it changes (docs/push.md): status, outcome, reserve, shares."""
    return (market.status, market.outcome, market.reserve_balance, market.total_yes_shares, market.total_no_shares)


class ClearingState:
    """Rows locked and read by one operation, and its changes; no SQL runs here."""

    market: Market  # set once the market row is locked (`Locking.__init__`)

    def __init__(self) -> None:
        self.now = timezone.now()
        self.exempt = frozenset(exchange_settings.EXCHANGE_SELF_TRADE_EXEMPT_USERS)
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
        self._market_read: tuple = ()  # `_market_values` as locked: a market event when they change
        self._market_read_sequence = 0  # the book's sequence as locked: the book delta's prev_sequence_id
