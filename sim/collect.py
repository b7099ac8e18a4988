"""What the simulator reads while and after the AMM trades: the platform's database (the
simulator may; the AMM may not) and the AMM's Redis state through `amm.state`'s readers.

- `Sampler.sample()`: once a second, per market, the whole book's and the AMM's own best
  quotes and sizes (open orders), the AMM's position, its mark-to-truth PnL from the
  ledger, and its fair price, phase, defense, skew and last oracle reading (amm:state).
- `amm_fills`: the AMM's fills from the platform's trades, as YES-view legs with the
  counterparty's trader kind.
- `ledger_pnl`: the AMM's wealth change in a market from the ledger and positions only
  (the cross-check of the report's fill-based PnL).
- `amm_transitions`, `invariants`: defense and phase changes, platform I1–I5 and A1–A3.
"""
from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection

from amm import state
from amm.constants import AMM_USER_ID
from sim.baselines import Fill
from sim.oracle import SimClock

OPEN = ("OPEN", "PARTIALLY_FILLED")


def _book_rows(market_ids: list[str]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT market_id, book_side, yes_price, user_id = %s, SUM(quantity - filled_quantity)
               FROM orders WHERE market_id = ANY(%s) AND status IN ('OPEN', 'PARTIALLY_FILLED')
               GROUP BY 1, 2, 3, 4""", [AMM_USER_ID, market_ids])
        return cursor.fetchall()


def _ledger_rows(market_ids: list[str]) -> dict[str, tuple[int, int, int, int]]:
    """market -> (Σ AMM ledger amounts, cash frozen by its open orders, YES, NO)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT m.id,
                      (SELECT COALESCE(SUM(amount), 0) FROM ledger_entries l WHERE l.user_id = %s AND l.market_id = m.id),
                      (SELECT COALESCE(SUM(frozen_amount), 0) FROM orders o WHERE o.user_id = %s AND o.market_id = m.id
                              AND o.frozen_asset_type = 'CASH' AND o.status IN ('OPEN', 'PARTIALLY_FILLED')),
                      COALESCE(p.yes_volume, 0), COALESCE(p.no_volume, 0)
               FROM markets m LEFT JOIN positions p ON p.market_id = m.id AND p.user_id = %s
               WHERE m.id = ANY(%s)""", [AMM_USER_ID, AMM_USER_ID, AMM_USER_ID, market_ids])
        return {row[0]: tuple(int(v) for v in row[1:]) for row in cursor.fetchall()}


def ledger_pnl(market_id: str, value_cents: float) -> float:
    """The AMM's wealth change in the market, from the platform's books only: Σ its ledger
    entries of the market (cash in and out, fees, freezes, mint/burn, settlement) + cash
    still frozen by its open orders + its YES and NO valued at `value_cents` (it held
    nothing in a market before the run created it)."""
    ledger, frozen, yes, no = _ledger_rows([market_id]).get(market_id, (0, 0, 0, 0))
    return ledger + frozen + yes * value_cents + no * (100 - value_cents)


class Sampler:
    def __init__(self, *, market_ids: list[str], clock: SimClock, truths, oracles) -> None:
        self.market_ids = market_ids
        self.clock = clock
        self.truths = truths
        self.oracles = oracles
        self.samples: dict[str, list[dict]] = {m: [] for m in market_ids}

    def sample(self, now: float, *, record: bool = True) -> dict[str, dict]:
        t = round(self.clock.sim_now(now), 3)
        levels: dict[str, dict] = {m: {"BID": {}, "ASK": {}, "AMM_BID": {}, "AMM_ASK": {}} for m in self.market_ids}
        for market_id, side, price, mine, qty in _book_rows(self.market_ids):
            book = levels[market_id]
            book[side][price] = book[side].get(price, 0) + int(qty)
            if mine:
                book["AMM_" + side][price] = book["AMM_" + side].get(price, 0) + int(qty)
        ledgers = _ledger_rows(self.market_ids)
        reads = state.quote_cycle_read_many(self.market_ids)
        out = {}
        for i, market_id in enumerate(self.market_ids):
            book, read = levels[market_id], reads[market_id]
            st = read.state or {}
            truth = self.truths[i].cents(max(0.0, t))
            ledger, frozen, yes, no = ledgers.get(market_id, (0, 0, 0, 0))
            amm_bid = max(book["AMM_BID"], default=None)
            amm_ask = min(book["AMM_ASK"], default=None)
            oracle = read.oracle or {}
            row = {
                "t": t,
                "truth": round(truth, 4),
                "oracle": self.oracles[i].cents(min(max(t, 0.0), self.truths[i].horizon)),
                "bid": max(book["BID"], default=None),
                "ask": min(book["ASK"], default=None),
                "amm_bid": amm_bid,
                "amm_ask": amm_ask,
                "amm_bid_size": book["AMM_BID"].get(amm_bid, 0) if amm_bid is not None else 0,
                "amm_ask_size": book["AMM_ASK"].get(amm_ask, 0) if amm_ask is not None else 0,
                "amm_orders": len(read.orders),
                "fair": _float(st.get("fair_price_cents")),
                "phase": st.get("phase") or None,
                "defense": st.get("defense_level") or None,
                "skew": _float(st.get("inventory_skew")),
                "kill": st.get("kill_switch") or None,
                "amm_oracle": _float(oracle.get("price_cents")),
                "amm_oracle_ts": int(oracle["ts_ms"]) if oracle.get("ts_ms") not in (None, "") else None,
                "yes": yes,
                "no": no,
                "pnl": round(ledger + frozen + yes * truth + no * (100 - truth), 2),
            }
            if record:
                self.samples[market_id].append(row)
            out[market_id] = row
        return out


def _float(value) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class AmmFill:
    fill: Fill
    trade_id: int


def amm_fills(*, market_ids: list[str], clock: SimClock, kinds: dict[str, str],
              samples: dict[str, list[dict]]) -> dict[str, list[Fill]]:
    """The AMM's fills per market (both legs of a trade with itself), in trade order; the
    counterparty's kind from `kinds` (user id -> noise/informed/stale; else "other"), the
    AMM's fair price at the last sample before the fill as its mid."""
    from exchange.models import Trade

    out: dict[str, list[Fill]] = defaultdict(list)
    trades = (Trade.objects.filter(market_id__in=market_ids)
              .filter(buy_user_id=AMM_USER_ID) | Trade.objects.filter(market_id__in=market_ids, sell_user_id=AMM_USER_ID))
    fair_index = {m: [(s["t"], s["fair"]) for s in samples.get(m, []) if s["fair"] is not None] for m in market_ids}
    for trade in trades.order_by("id"):
        t = clock.sim_now(trade.executed_at.timestamp())
        mid = _last_before(fair_index[trade.market_id], t)
        for d, own_order, other_user in ((+1, trade.buy_order_id, trade.sell_user_id),
                                         (-1, trade.sell_order_id, trade.buy_user_id)):
            if (trade.buy_user_id if d > 0 else trade.sell_user_id) != AMM_USER_ID:
                continue
            fee = trade.maker_fee if trade.maker_order_id == own_order else trade.taker_fee
            kind = "amm" if other_user == AMM_USER_ID else kinds.get(other_user, "other")
            out[trade.market_id].append(Fill(t=round(t, 4), d=d, qty=trade.quantity, price=float(trade.price_cents),
                                             kind=kind, mid=mid, fee=float(fee)))
    return {m: out.get(m, []) for m in market_ids}


def _last_before(series: list[tuple[float, float]], t: float) -> float | None:
    i = bisect.bisect_right(series, (t, math.inf))
    return series[i - 1][1] if i else None


def amm_transitions(market_ids: list[str]) -> dict[str, dict[str, list[dict]]]:
    """Defense-level and phase changes per market, oldest first."""
    from amm.models import DefenseLevelChange, PhaseTransition

    out = {m: {"defense": [], "phase": []} for m in market_ids}
    for row in DefenseLevelChange.objects.filter(market_id__in=market_ids).order_by("timestamp_ms", "id"):
        out[row.market_id]["defense"].append({"ts_ms": row.timestamp_ms, "from": row.from_level, "to": row.to_level,
                                              "reason": row.reason})
    for row in PhaseTransition.objects.filter(market_id__in=market_ids).order_by("timestamp_ms", "id"):
        out[row.market_id]["phase"].append({"ts_ms": row.timestamp_ms, "from": row.from_phase, "to": row.to_phase,
                                            "reason": row.reason})
    return out


def invariants(market_ids: list[str], samples: dict[str, list[dict]]) -> dict:
    """Platform I1–I5 and account rules (exchange.invariants) now, and the AMM's A1–A3 per
    market: now, on the platform's position and the AMM's Redis view, and over the samples."""
    from exchange.invariants import invariants_check
    from exchange.models import Position

    platform = invariants_check()
    markets = {}
    for market_id in market_ids:
        pos = Position.objects.filter(user_id=AMM_USER_ID, market_id=market_id).first()
        a2_platform = pos is None or (pos.yes_volume >= pos.yes_pending_sell and pos.no_volume >= pos.no_pending_sell)
        inv = state.inventory_get(market_id)
        st = state.state_get(market_id)
        config = state.config_get(market_id)
        fair = float(st.get("fair_price_cents") or 50)
        floor = int(config.get("min_asset_floor_cents") or 0)
        scale_min = int(config.get("skew_min_inventory") or 0)
        a1_breaches = 0
        worst_skew = 0.0
        for s in samples.get(market_id, []):
            scale = max(s["yes"] + s["no"], scale_min, 1)
            skew = (s["yes"] - s["no"]) / scale
            worst_skew = max(worst_skew, abs(skew))
            # A1: beyond 0.95 the kill switch must be on and the AMM's book empty
            if abs(skew) > 0.95 and not (s["kill"] == "ON" or s["defense"] == "KILL_SWITCH") and s["amm_orders"]:
                a1_breaches += 1
        a3_value = inv.cash_cents + inv.yes_volume * fair + inv.no_volume * (100 - fair) if inv.exists else None
        markets[market_id] = {
            "A1_max_abs_skew": round(worst_skew, 4),
            "A1_ok": a1_breaches == 0,
            "A2_ok": a2_platform and (not inv.exists or (inv.yes_available >= 0 and inv.no_available >= 0)),
            "A3_asset_value_cents": a3_value,
            "A3_floor_cents": floor,
            "A3_ok": a3_value is None or a3_value >= floor,
        }
    return {"platform": platform, "markets": markets}
