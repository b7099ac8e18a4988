"""The AMM's strategy engine: pure functions and small classes, no I/O (SPEC §5, §6).

Nothing here reads a clock, a random source, Redis, the database or the network: the runtime
passes the market, book, inventory, live orders, config, oracle reading, new fills and
`now_ms`, and gets back immutable data to carry out. Same inputs → same decision, so a
simulation replays exactly. Units (SPEC §2): prices and money are int cents, quantities int
shares, σ is float cents; YES-view prices unless a field says own-side (`price_cents` of an
order is on its own side, as the platform stores it).

Main entry point — one quote cycle of one market::

    from amm.strategy import StrategyState, decide

    state = StrategyState.initial(market_id, now_ms)          # or StrategyState.from_dict(saved)
    decision = decide(
        state=state, market=MarketInfo(...), inventory=Inventory(...), config=StrategyConfig(...),
        now_ms=now_ms, book=local_order_book, live_orders=(LiveOrder(...), ...),
        oracle=OracleReading(price_cents, ts_ms, source) or None, fills=(Fill(...), ...),
        daily_pnl_cents=pnl, kill_switch=KillSwitchState.OFF,
        market_trades=(MarketTrade(...), ...),  # optional: anyone's trades in the market since the last cycle
    )

The runtime then, in this order:
  1. records `decision.phase_transition` (from, to, reason, timestamp_ms) if not None;
  2. if `decision.engage_kill_switch`: sets the kill switch ON and alerts (reason:
     `decision.defense.reason`); the quotes are already empty, so
  3. sends `decision.replacements` (tuple of `Replacement(old_order_id | None, new DesiredQuote | None)`)
     through `POST /api/v1/amm/orders/replace` — an empty tuple means send nothing;
  4. mints `decision.mint_pairs` pairs if > 0 (safe before or after step 3);
  5. writes `decision.state_fields()` into `amm:state:{market_id}` and keeps `decision.state`
     (`state.to_dict()` is JSON-ready for Redis; `StrategyState.from_dict` restores it);
     `decision.summary()` is a JSON-ready snapshot (seed §5.1 names) for logs and dashboards.

The atomic replace must cancel every old order before placing the new ones (the reference
platform does): the ladder counts what the live orders hold as available to the new set.

While the market winds down (RESOLVED → WINDING_DOWN) call `wind_down(inventory, live_orders)`
instead: cancel `cancel_order_ids`, then burn `burn_pairs`; stop when `complete`.

Building blocks (each usable and tested on its own):
  - book:       LocalOrderBook (apply_snapshot / apply_delta with gap detection, best bid/ask,
                mid, spread, depth_3, get_vwap, micro_price), external_micro_price
  - pricing:    oracle_remember / oracle_check (stale, deviation, jump guards), post_fill_update,
                micro_depth_factor, blend_fair (three layers by phase, clamped)
  - volatility: sigma_cents (clipped, time-normalised realized volatility in [1, 15]),
                sigma_at50 (the same in log-odds, quoted in cents at 50: what decide reports)
  - avellaneda: gamma_for (tiers), gamma_at (continuous across tiers), time_factor τ = h/(h+κ),
                reservation_price, optimal_spread, spread_term, as_quotes (A-S mode, used by
                bench/as_paper.py)
  - binary:     binary_risk (the price variance over the holding horizon: realized σ in a
                p(1 − p) shape or the pm-AMM expiry rate, up to the settlement jump)
  - exposure:   net exposure in cents against its limit, exposure skew, side sizes
  - intensity:  order-flow intensity (A, k) learned from fills and market trades
  - edge:       quote_bounds (fair ± minimum half-spread, unwind allowance, band ends, post-only)
  - ladder:     compose_spread, capacity_for, build_ladder (prices, sizes, backing, limits)
  - diff:       diff_orders (minimal replacements within tolerance)
  - defense:    evaluate_defense (NORMAL / WIDEN / ONE_SIDE / KILL_SWITCH + reason)
  - phase:      evaluate_phase (EXPLORATION ⇄ STABILIZATION with reason), phase_multipliers
  - lvr:        evaluate_lvr (velocity, cooldown)
  - reinvest:   mint_pairs, wind_down
"""
from amm.strategy.avellaneda import (
    as_quotes,
    gamma_at,
    gamma_for,
    hours_remaining,
    optimal_spread,
    reservation_price,
    spread_term,
    time_factor,
)
from amm.strategy.binary import BinaryRisk, binary_risk
from amm.strategy.book import LocalOrderBook, external_micro_price, external_top, micro_price
from amm.strategy.config import ConfigError, StrategyConfig, parameter_specs, validate_values
from amm.strategy.defense import DefenseEval, asset_value_cents, evaluate_defense
from amm.strategy.diff import diff_orders
from amm.strategy.edge import QuoteBounds, quote_bounds
from amm.strategy.engine import Decision, StrategyState, decide
from amm.strategy.exposure import exposure_cents, exposure_skew, net_shares
from amm.strategy.ladder import Capacity, SpreadBreakdown, build_ladder, capacity_for, compose_spread
from amm.strategy.intensity import FlowMemory, Intensity, intensity
from amm.strategy.lvr import LvrEval, evaluate_lvr, fair_velocity
from amm.strategy.phase import PhaseTransition, evaluate_phase, phase_multipliers
from amm.strategy.pricing import (
    FairPrice,
    OracleCheck,
    OracleMemory,
    PostFillMemory,
    blend_fair,
    micro_depth_factor,
    oracle_check,
    oracle_remember,
    post_fill_update,
)
from amm.strategy.reinvest import WindDown, mint_pairs, wind_down
from amm.strategy.types import (
    DesiredQuote,
    Fill,
    Inventory,
    LiveOrder,
    MarketInfo,
    MarketTrade,
    OracleReading,
    Replacement,
    fee_per_share,
    yes_view_price,
)
from amm.strategy.volatility import realized_sigma, sigma_at50, sigma_cents

__all__ = [
    "BinaryRisk",
    "Capacity",
    "ConfigError",
    "Decision",
    "DefenseEval",
    "DesiredQuote",
    "FairPrice",
    "Fill",
    "FlowMemory",
    "Intensity",
    "Inventory",
    "LiveOrder",
    "LocalOrderBook",
    "LvrEval",
    "MarketInfo",
    "MarketTrade",
    "OracleCheck",
    "OracleMemory",
    "OracleReading",
    "PhaseTransition",
    "PostFillMemory",
    "QuoteBounds",
    "Replacement",
    "SpreadBreakdown",
    "StrategyConfig",
    "StrategyState",
    "WindDown",
    "as_quotes",
    "asset_value_cents",
    "binary_risk",
    "blend_fair",
    "build_ladder",
    "capacity_for",
    "compose_spread",
    "decide",
    "diff_orders",
    "evaluate_defense",
    "evaluate_lvr",
    "evaluate_phase",
    "exposure_cents",
    "exposure_skew",
    "external_micro_price",
    "external_top",
    "fair_velocity",
    "fee_per_share",
    "gamma_at",
    "gamma_for",
    "hours_remaining",
    "intensity",
    "micro_depth_factor",
    "micro_price",
    "mint_pairs",
    "net_shares",
    "optimal_spread",
    "oracle_check",
    "oracle_remember",
    "parameter_specs",
    "phase_multipliers",
    "post_fill_update",
    "quote_bounds",
    "realized_sigma",
    "reservation_price",
    "sigma_at50",
    "sigma_cents",
    "spread_term",
    "time_factor",
    "validate_values",
    "wind_down",
    "yes_view_price",
]
