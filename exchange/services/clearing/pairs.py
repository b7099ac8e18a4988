"""YES+NO pairs turned into 100 cents and back against the market's reserve: a trader's matched
pairs netted after each fill (seed §3.3), and the AMM's privileged mint and burn (SPEC §3.6)."""
from __future__ import annotations

from exchange.enums import LedgerEntryType as E, ReferenceType as R, Side
from exchange.exceptions import Insufficient
from exchange.services.clearing.state import ClearingState, _Ref


class Pairs(ClearingState):
    """Moves cash, reserve and shares through `Ledger`."""

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
