"""The end of a market (SPEC §3.4): settling pays 100 cents per winning share from the reserve,
voiding refunds at cost; either closes every position."""
from __future__ import annotations

from exchange.enums import LedgerEntryType as E, ReferenceType as R, Side
from exchange.models import Position
from exchange.services.clearing.state import ClearingState


class Settlement(ClearingState):
    """Pays and refunds through `Ledger`."""

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
