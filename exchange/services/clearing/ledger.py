"""Money and shares moving in memory (SPEC §3.2), each cash and reserve move with its ledger
line: available and frozen cash, the market's reserve, share totals and sequence, a position's
pending sells and cost basis, and the fees owed to the fee account."""
from __future__ import annotations

from exchange.enums import FEE_USER_ID, RESERVE_USER_ID, LedgerEntryType as E, ReferenceType as R, Side
from exchange.exceptions import Insufficient
from exchange.models import Order, Position
from exchange.services.clearing.state import ClearingState, _Ref


class Ledger(ClearingState):
    """Primitives every other concern moves money and shares with."""

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

    def _shares(self, delta: int) -> None:
        self.market.total_yes_shares += delta
        self.market.total_no_shares += delta
        self._market_dirty = True

    def _pending(self, position: Position, side: str, delta: int) -> None:
        if side == Side.YES:
            position.yes_pending_sell += delta
        else:
            position.no_pending_sell += delta

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

    def _credit_fee(self, amount: int, ref: _Ref) -> None:
        if FEE_USER_ID in self.accounts:  # the fee account itself trades: it is locked like any party
            self._cash(FEE_USER_ID, E.FEE, amount, R.TRADE, ref)
        else:
            self._fees.append((amount, ref))  # credited at flush (`_fee_credit`)
