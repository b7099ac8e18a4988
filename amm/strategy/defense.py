"""Defense stack (SPEC §5 "Defense", seed §6.3, invariants A1/A3 of seed §8.1).

Level, checked from the most severe down; the first rule that holds wins:

| level       | when                                                                         |
|-------------|------------------------------------------------------------------------------|
| KILL_SWITCH | kill switch already ON (sticky until an operator reset — the runtime passes it) |
| KILL_SWITCH | daily loss > 50 % of `budget_limit_cents`, or > `max_loss_daily_cents`          |
| KILL_SWITCH | A3: cash + YES·fair + NO·(100 − fair) < `min_asset_floor_cents`                 |
| KILL_SWITCH | A1: |skew| > 0.95                                                             |
| ONE_SIDE    | max(|skew|, |exposure_skew|) > 0.90                                          |
| WIDEN       | max(|skew|, |exposure_skew|) > 0.80                                          |
| WIDEN       | oracle JUMP / DEVIATION (pricing.py): the price itself is uncertain             |
| NORMAL      | otherwise                                                                    |

Within `reduce_only_window_ms` before trading end the engine turns a non-kill level into
ONE_SIDE with reason REDUCE_ONLY_WINDOW (`reduce_only_defense`).

`skew` is the risk skew (YES − NO) / max(YES + NO, `skew_min_inventory`) (Inventory.risk_skew):
equal to the seed's skew once the AMM holds `skew_min_inventory` shares, damped below, so one
fill on a cash-only book is not a ±1 skew that kills the market (a documented relaxation of
A1 for books smaller than `skew_min_inventory`; set it to 0 for the seed's exact rule).

`exposure_skew` (issue 13, exposure.py) is the net directional exposure in cents against its
limit, which minting pairs does not dilute. WIDEN and ONE_SIDE act on the larger of |skew|
and |exposure_skew| (the side to quote in ONE_SIDE follows the sign of the larger), so a book
diluted by minting still widens and unwinds at the same net exposure; the KILL_SWITCH rule
stays the seed's A1 on `skew`. An exposure beyond 0.95 of its limit stays ONE_SIDE at its
widest (reduce-only, the most the unwind may give is bounded by edge.py), not a kill: the
exposure limit is a budget to unwind from, not an operator emergency.

Behaviour (SPEC §5): NORMAL ×1, two-sided. WIDEN: spread × 1.5 → 3 linearly as |skew| goes
0.80 → 0.90 (oracle-only WIDEN uses ×1.5). ONE_SIDE: spread × 2 → 4 and a distress discount
0 → 5 cents linearly as |skew| goes 0.90 → 0.95, quoting only the side that reduces the
inventory (long YES → asks only; long NO → bids only). KILL_SWITCH: no quotes.
"""
from __future__ import annotations

from dataclasses import dataclass

from amm.enums import DefenseLevel, KillSwitchState
from amm.strategy.config import StrategyConfig
from amm.strategy.pricing import ORACLE_DISTRUST

SKEW_WIDEN = 0.80  # SPEC §5
SKEW_ONE_SIDE = 0.90  # SPEC §5
SKEW_KILL = 0.95  # SPEC §5, invariant A1
DAILY_LOSS_BUDGET_FRACTION = 0.5  # SPEC §5 "daily loss > 50% of budget"
WIDEN_MULTIPLIER = (1.5, 3.0)  # SPEC §5 "spread × 1.5–3 growing linearly with skew"
ONE_SIDE_MULTIPLIER = (2.0, 4.0)  # SPEC §5 "spread × 2–4"
DISTRESS_DISCOUNT_MAX_CENTS = 5  # SPEC §5 "distress discount growing linearly 0–5 cents"

REASON_NORMAL = "NORMAL"
REASON_KILL_SWITCH_ON = "KILL_SWITCH_ON"
REASON_DAILY_LOSS_BUDGET = "DAILY_LOSS_OVER_HALF_BUDGET"
REASON_DAILY_LOSS_LIMIT = "DAILY_LOSS_OVER_MAX"
REASON_ASSET_FLOOR = "ASSET_FLOOR_BREACHED"
REASON_SKEW = "SKEW"
REASON_EXPOSURE = "EXPOSURE"
REASON_REDUCE_ONLY = "REDUCE_ONLY_WINDOW"
REASON_ORACLE = "ORACLE_"


@dataclass(frozen=True, slots=True)
class DefenseEval:
    """The defense decision for one cycle."""

    level: DefenseLevel
    reason: str
    spread_multiplier: float = 1.0
    quote_bids: bool = True
    quote_asks: bool = True
    distress_discount_cents: int = 0

    @property
    def is_kill(self) -> bool:
        return self.level is DefenseLevel.KILL_SWITCH


def asset_value_cents(cash_cents: int, yes_volume: int, no_volume: int, fair: float) -> float:
    """A3 left-hand side: cash + YES·fair + NO·(100 − fair)."""
    return cash_cents + yes_volume * fair + no_volume * (100 - fair)


def _lerp(x: float, x0: float, x1: float, y0: float, y1: float) -> float:
    t = (x - x0) / (x1 - x0)
    t = 0.0 if t < 0 else 1.0 if t > 1 else t
    return y0 + (y1 - y0) * t


def evaluate_defense(
    *,
    skew: float,
    daily_pnl_cents: int,
    asset_value: float,
    config: StrategyConfig,
    kill_switch: KillSwitchState = KillSwitchState.OFF,
    oracle_status: str | None = None,
    exposure_skew: float | None = None,
) -> DefenseEval:
    """Evaluate the stack (module table). `daily_pnl_cents` < 0 is a loss."""
    if kill_switch == KillSwitchState.ON:
        return _kill(REASON_KILL_SWITCH_ON)
    loss = -daily_pnl_cents
    if loss > DAILY_LOSS_BUDGET_FRACTION * config.budget_limit_cents:
        return _kill(REASON_DAILY_LOSS_BUDGET)
    if loss > config.max_loss_daily_cents:
        return _kill(REASON_DAILY_LOSS_LIMIT)
    if asset_value < config.min_asset_floor_cents:
        return _kill(REASON_ASSET_FLOOR)
    mag = abs(skew)
    if mag > SKEW_KILL:
        return _kill(REASON_SKEW)
    reason = REASON_SKEW
    if exposure_skew is not None and abs(exposure_skew) > mag:
        skew, reason = exposure_skew, REASON_EXPOSURE
        mag = min(abs(skew), SKEW_KILL)
    if mag > SKEW_ONE_SIDE:
        long_yes = skew > 0
        return DefenseEval(
            DefenseLevel.ONE_SIDE,
            reason,
            spread_multiplier=_lerp(mag, SKEW_ONE_SIDE, SKEW_KILL, *ONE_SIDE_MULTIPLIER),
            quote_bids=not long_yes,
            quote_asks=long_yes,
            distress_discount_cents=int(_lerp(mag, SKEW_ONE_SIDE, SKEW_KILL, 0, DISTRESS_DISCOUNT_MAX_CENTS) + 0.5),
        )
    if mag > SKEW_WIDEN:
        return DefenseEval(
            DefenseLevel.WIDEN, reason, spread_multiplier=_lerp(mag, SKEW_WIDEN, SKEW_ONE_SIDE, *WIDEN_MULTIPLIER)
        )
    if oracle_status in ORACLE_DISTRUST:
        return DefenseEval(DefenseLevel.WIDEN, REASON_ORACLE + oracle_status, spread_multiplier=WIDEN_MULTIPLIER[0])
    return DefenseEval(DefenseLevel.NORMAL, REASON_NORMAL)


def reduce_only_defense(evaluated: DefenseEval, net_shares: int) -> DefenseEval:
    """The reduce-only window before trading end (config `reduce_only_window_ms`, issue 13) as a
    defense state: ONE_SIDE, reason REDUCE_ONLY_WINDOW, quoting only the side that sells the net
    position down (long YES → asks, long NO → bids, flat → nothing), at the evaluated level's
    spread multiplier and discount (a wider spread would only move the reducing quote away).
    ONE_SIDE also stops minting (reinvest.py). A KILL_SWITCH evaluation is never relaxed."""
    if evaluated.is_kill:
        return evaluated
    return DefenseEval(
        DefenseLevel.ONE_SIDE,
        REASON_REDUCE_ONLY,
        spread_multiplier=evaluated.spread_multiplier,
        quote_bids=net_shares < 0,
        quote_asks=net_shares > 0,
        distress_discount_cents=evaluated.distress_discount_cents,
    )


def _kill(reason: str) -> DefenseEval:
    return DefenseEval(DefenseLevel.KILL_SWITCH, reason, spread_multiplier=1.0, quote_bids=False, quote_asks=False)


def a1_room(*, yes: int, no: int, min_inventory: int, bid: bool, cap: int) -> int:
    """The most shares one side's quotes may carry (up to `cap`) so that, filled to the last
    share, the seed's skew (Inventory.risk_skew) stays within invariant A1 (≤ SKEW_KILL): the
    strategy never quotes a size that could trip the kill switch in one sweep (a book of few
    shares, not diluted by minting, would otherwise go from NORMAL to KILL_SWITCH in one fill).

    A bid fill of x raises YES − NO by x, an ask fill lowers it; the shares come from buying
    one outcome or selling the other, so YES + NO moves by up to ±x: the worse case (selling
    what is held first shrinks the denominator) is assumed."""
    if cap <= 0:
        return 0

    def within(x: int) -> bool:
        held = no if bid else yes  # selling this first shrinks YES + NO
        sold = x if x < held else held
        net = yes - no + (x if bid else -x)
        total = yes + no + x - 2 * sold
        denominator = total if total > min_inventory else min_inventory
        return denominator > 0 and abs(net) <= SKEW_KILL * denominator

    if not within(0):
        return 0
    lo, hi = 0, cap  # within(lo) holds; find the largest x ≤ cap that does (|skew| grows with x past 0)
    if within(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if within(mid):
            lo = mid
        else:
            hi = mid
    return lo
