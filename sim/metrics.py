"""Trading-quality figures of one market maker on one market (pure; the same code for the
live AMM and the offline baselines).

PnL is marked to the truth: the maker's wealth W = cash + YES·V + NO·(100 − V), V the final
value (the truth at the window's end, or 100/0 once settled). A fill of q shares bought
(d = +1) or sold (d = −1) at price x changes W by d·q·(V − x) − fee, and minting or burning
pairs changes nothing, so the total splits exactly into

    spread capture   Σ d·q·(m − x)     against the maker's own mid/fair price m at the fill
    adverse selection Σ d·q·(P − m)    the truth P at the fill against that mid (markout)
    inventory PnL    Σ d·q·(V − P)     the truth moving while the position is held
    fees             −Σ fee

(spread capture + adverse selection is each fill's markout against the truth at the fill).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from sim.baselines import Fill, QuoteState
from sim.scenarios import TruePath

INFORMED_KINDS = ("informed", "stale")


@dataclass(frozen=True)
class Curves:
    times: tuple[float, ...]
    inventory: tuple[int, ...]  # net YES (bought − sold) at each time
    pnl: tuple[float, ...]  # marked to the truth at that time


def curves(fills: list[Fill], truth: TruePath, times: list[float]) -> Curves:
    ordered = sorted(fills, key=lambda f: f.t)
    inventory, pnl = [], []
    i, position, cash = 0, 0, 0.0
    for t in times:
        while i < len(ordered) and ordered[i].t <= t:
            f = ordered[i]
            position += f.d * f.qty
            cash += -f.d * f.qty * f.price - f.fee
            i += 1
        inventory.append(position)
        pnl.append(cash + position * truth.cents(t))
    return Curves(times=tuple(times), inventory=tuple(inventory), pnl=tuple(pnl))


def max_drawdown(values: tuple[float, ...] | list[float]) -> float:
    peak, worst = 0.0, 0.0  # the curve starts at 0
    for v in values:
        peak = max(peak, v)
        worst = max(worst, peak - v)
    return worst


def maker_metrics(*, fills: list[Fill], quotes: list[QuoteState], truth: TruePath, final_value: float,
                  times: list[float]) -> dict:
    """The report's figures for one maker on one market (cents, shares, fractions)."""
    spread = adverse = inventory_pnl = fees = 0.0
    informed_markout = 0.0
    by_kind: dict[str, dict] = {}
    for f in fills:
        p = truth.cents(f.t)
        m = f.mid if f.mid is not None else p
        spread += f.d * f.qty * (m - f.price)
        adverse += f.d * f.qty * (p - m)
        inventory_pnl += f.d * f.qty * (final_value - p)
        fees += f.fee
        row = by_kind.setdefault(f.kind, {"fills": 0, "volume": 0, "markout_cents": 0.0})
        row["fills"] += 1
        row["volume"] += f.qty
        row["markout_cents"] += f.d * f.qty * (p - f.price)
        if f.kind in INFORMED_KINDS:
            informed_markout += f.d * f.qty * (p - f.price)
    total = spread + adverse + inventory_pnl - fees
    c = curves(fills, truth, times)
    live = [q for q in quotes]
    both = [q for q in live if q.bid is not None and q.ask is not None]
    return {
        "pnl_cents": total,
        "spread_capture_cents": spread,
        "adverse_selection_cents": adverse,
        "inventory_pnl_cents": inventory_pnl,
        "fees_cents": -fees,
        "fills": len(fills),
        "volume": sum(f.qty for f in fills),
        "loss_to_informed_cents": -informed_markout,
        "by_kind": by_kind,
        "max_drawdown_cents": max_drawdown(c.pnl),
        "inventory_variance": statistics.pvariance(c.inventory) if len(c.inventory) > 1 else 0.0,
        "max_abs_inventory": max((abs(v) for v in c.inventory), default=0),
        "final_inventory": c.inventory[-1] if c.inventory else 0,
        "uptime": len(both) / len(live) if live else 0.0,
        "avg_spread_cents": statistics.fmean(q.ask - q.bid for q in both) if both else None,
        "avg_depth_at_touch": statistics.fmean((q.bid_size + q.ask_size) / 2 for q in both) if both else None,
    }


def summary(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    if not values:
        return 0.0, 0.0
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)
