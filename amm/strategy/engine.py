"""One quote cycle for one market: `decide(...)` composes the strategy modules (SPEC §5, §6).

    decision = decide(state=state, market=market, inventory=inventory, config=config,
                      now_ms=now_ms, book=book, live_orders=live, oracle=oracle, fills=new_fills,
                      daily_pnl_cents=pnl, kill_switch=kill, market_trades=new_market_trades)
    # runtime: record decision.phase_transition; if decision.engage_kill_switch, set the kill
    # switch ON, cancel all, alert; send decision.replacements through the atomic replace;
    # mint decision.mint_pairs; write decision.state_fields() to amm:state; keep decision.state.

Pure: no clock, no randomness, no I/O. The same inputs give the same Decision, so a
simulation replays exactly. Order of evaluation (each step sees the previous steps' results):

1. L2 micro-price of the external book (own orders removed, weight scaled by its depth) →
   oracle guards (the jump gap scaled by the volatility expected at the previous fair) → L3
   post-fill update → fair price blended with the *current* phase's weights.
2. Fair sample appended (at most one per 5 s, wider spacing when the windows keep more than
   600 samples: volatility.sample_spacing_ms), σ from the samples (log-odds, quoted in cents
   at 50: volatility.sigma_at50), LVR velocity and cooldown; the order-flow intensity (A, k)
   updated with the new fills and market trades, measured from the previous cycle's fair.
3. Phase transition (fill volume, stability, time; rollback on 5-minute range or loss).
4. Exposure: net YES − NO at fair value against its limit (exposure.py); defense level from the
   seed's risk skew (A1) and the exposure skew, daily loss, asset floor, oracle status, sticky
   kill switch.
5. γ continuous across the tiers, τ, the binary's price variance V over the holding horizon
   (binary.py: realized σ or the pm-AMM expiry rate, up to the settlement jump), reservation
   r = fair − clamp(q·γ·V, ±max_reservation_shift_cents) with q the exposure skew, spread with
   the learned k and the (new) phase, defense and LVR multipliers.
6. Ladder (nothing when the market is not ACTIVE, trading has ended, or KILL_SWITCH): sizes ×
   √(min(1, time left / `expiry_size_horizon_ms`)) (the pm-AMM's √(T − t) liquidity, full size
   before that horizon; τ stays reported), the exposure-adding side × (1 − |q|)^η; best prices
   bounded by the edge (edge.py: fair ± minimum half-spread, the unwind allowance, the band
   ends, post-only behind the external book). Inside `reduce_only_window_ms` before trading
   end the defense is ONE_SIDE (reason REDUCE_ONLY_WINDOW): only the side that sells what is
   held is quoted, inventory-backed, at most the net position; nothing when flat. ONE_SIDE
   (by skew or by the window) is the unwind mode: its one side gives up the minimum edge and
   may sit through fair by the defense's distress discount (0–5 c as the skew goes 0.90 →
   0.95), at most `unwind_max_loss_cents`.
7. Mint from idle cash (never in the reduce-only window); diff against the live orders.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from amm.enums import AMMPhase, DefenseLevel, KillSwitchState, PhaseTransitionReason
from amm.strategy.avellaneda import gamma_at, hours_remaining, time_factor
from amm.strategy.binary import BinaryRisk, binary_risk, expected_sigma_cents, expiry_size_factor
from amm.strategy.book import LocalOrderBook, external_top, micro_price
from amm.strategy.config import StrategyConfig
from amm.strategy.defense import DefenseEval, a1_room, asset_value_cents, evaluate_defense, reduce_only_defense
from amm.strategy.diff import diff_orders
from amm.strategy.edge import QuoteBounds, edge_cents, quote_bounds
from amm.strategy.exposure import exposure_cents, exposure_skew, exposure_step, net_shares, side_sizes
from amm.strategy.intensity import FlowMemory, Intensity, flow_update, intensity, trade_distances
from amm.strategy.ladder import SpreadBreakdown, build_ladder, capacity_for, compose_spread, level_size
from amm.strategy.lvr import LvrEval, evaluate_lvr
from amm.strategy.phase import ROLLBACK_WINDOW_MS, PhaseTransition, evaluate_phase, phase_multipliers
from amm.strategy.pricing import (
    ORACLE_BOOK_MIN_CONFIDENCE,
    FairPrice,
    OracleMemory,
    PostFillMemory,
    blend_fair,
    micro_depth_factor,
    oracle_check,
    oracle_remember,
    post_fill_update,
)
from amm.strategy.reinvest import mint_pairs
from amm.strategy.types import (
    MARKET_ACTIVE,
    DesiredQuote,
    Fill,
    Inventory,
    LiveOrder,
    MarketInfo,
    MarketTrade,
    OracleReading,
    Replacement,
)
from amm.strategy.volatility import SIGMA_PRIOR_CENTS, VOL_WINDOW_MS, append_sample, bound_sigma, sigma_at50_memo

STATE_VERSION = 2  # 2: + flow (order-flow intensity) and sigma_memo; a version-1 dict loads with both empty


@dataclass(frozen=True, slots=True)
class StrategyState:
    """What persists between cycles of one market (seed §5.1), serialisable with to_dict/from_dict."""

    market_id: str
    phase: AMMPhase = AMMPhase.EXPLORATION
    phase_entered_ms: int = 0
    last_rollback_ms: int | None = None
    fair: float | None = None  # last raw fair price (YES-view cents)
    fair_ms: int | None = None
    sample_ts: tuple[int, ...] = ()  # fair samples for σ, stability and rollback (ascending)
    sample_px: tuple[float, ...] = ()
    oracle: OracleMemory = field(default_factory=OracleMemory)
    post_fill: PostFillMemory = field(default_factory=PostFillMemory)
    lvr_cooldown_until: int = 0
    phase_fill_volume: int = 0  # AMM fill volume since entering the current phase
    total_fill_volume: int = 0
    defense_level: DefenseLevel = DefenseLevel.NORMAL  # last evaluated (for reporting)
    flow: FlowMemory = field(default_factory=FlowMemory)  # order-flow intensity statistics (intensity.py)
    sigma_memo: tuple | None = None  # volatility.sigma_at50_memo: (first ts, last ts, raw σ or None)

    @classmethod
    def initial(cls, market_id: str, now_ms: int) -> "StrategyState":
        """A new market: EXPLORATION entered now, no history."""
        return cls(market_id=market_id, phase_entered_ms=now_ms)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (enums as their values)."""
        return {
            "version": STATE_VERSION,
            "market_id": self.market_id,
            "phase": self.phase.value,
            "phase_entered_ms": self.phase_entered_ms,
            "last_rollback_ms": self.last_rollback_ms,
            "fair": self.fair,
            "fair_ms": self.fair_ms,
            "sample_ts": list(self.sample_ts),
            "sample_px": list(self.sample_px),
            "oracle": {"price": self.oracle.price, "ts_ms": self.oracle.ts_ms, "jump": self.oracle.jump},
            "post_fill": {"price": self.post_fill.price, "ts_ms": self.post_fill.ts_ms, "weight": self.post_fill.weight},
            "lvr_cooldown_until": self.lvr_cooldown_until,
            "phase_fill_volume": self.phase_fill_volume,
            "total_fill_volume": self.total_fill_volume,
            "defense_level": self.defense_level.value,
            "flow": self.flow.to_dict(),
            "sigma_memo": list(self.sigma_memo) if self.sigma_memo is not None else None,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "StrategyState":
        oracle = raw.get("oracle") or {}
        post = raw.get("post_fill") or {}
        ts = tuple(int(t) for t in raw.get("sample_ts") or ())
        px = tuple(float(p) for p in raw.get("sample_px") or ())
        n = min(len(ts), len(px))
        return cls(
            market_id=str(raw["market_id"]),
            phase=AMMPhase(raw.get("phase", AMMPhase.EXPLORATION.value)),
            phase_entered_ms=int(raw.get("phase_entered_ms") or 0),
            last_rollback_ms=_opt_int(raw.get("last_rollback_ms")),
            fair=_opt_float(raw.get("fair")),
            fair_ms=_opt_int(raw.get("fair_ms")),
            sample_ts=ts[len(ts) - n:],
            sample_px=px[len(px) - n:],
            oracle=OracleMemory(_opt_float(oracle.get("price")), _opt_int(oracle.get("ts_ms")), bool(oracle.get("jump"))),
            post_fill=PostFillMemory(_opt_float(post.get("price")), _opt_int(post.get("ts_ms")), float(post.get("weight") or 0.0)),
            lvr_cooldown_until=int(raw.get("lvr_cooldown_until") or 0),
            phase_fill_volume=int(raw.get("phase_fill_volume") or 0),
            total_fill_volume=int(raw.get("total_fill_volume") or 0),
            defense_level=DefenseLevel(raw.get("defense_level", DefenseLevel.NORMAL.value)),
            flow=FlowMemory.from_dict(raw.get("flow")),
            sigma_memo=_memo(raw.get("sigma_memo")),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything one cycle decided; the runtime carries it out."""

    market_id: str
    now_ms: int
    state: StrategyState  # the state to keep for the next cycle
    fair: FairPrice
    sigma_cents: float
    gamma: float
    tau: float
    hours_remaining: float | None
    skew: float  # the seed's (YES − NO)/(YES + NO), reported as inventory_skew
    risk_skew: float  # the seed's skew damped for small books (Inventory.risk_skew): A1 and the defense
    reservation_price: float
    spread: SpreadBreakdown
    defense: DefenseEval
    lvr: LvrEval
    phase_transition: PhaseTransition | None
    quotes: tuple[DesiredQuote, ...]
    replacements: tuple[Replacement, ...]  # for POST /api/v1/amm/orders/replace; () = send nothing
    mint_pairs: int
    engage_kill_switch: bool  # defense reached KILL_SWITCH while the switch was OFF: set it ON, alert
    halt_reason: str | None  # why nothing is quoted (None while quoting)
    # --- issue 13 (defaults keep a hand-built Decision valid) ---
    net_shares: int = 0  # YES − NO volume
    exposure_cents: float = 0.0  # net directional exposure at fair (exposure.py), + long YES
    exposure_skew: float = 0.0  # q of the reservation price and sizes: exposure / limit − target, in [−1, 1]
    risk: BinaryRisk | None = None  # V and σ parts (binary.py)
    intensity: Intensity | None = None  # learned (A, k) (intensity.py)
    bounds: QuoteBounds | None = None  # edge bounds of the best bid / ask (edge.py)
    reduce_only: bool = False  # inside reduce_only_window_ms before trading end
    unwind: bool = False  # the quoted side may go through fair by at most unwind_max_loss_cents
    bid_size: int = 0  # shares per bid level the strategy wants (skew, expiry shrink; 0: side not quoted),
    ask_size: int = 0  # before capacity, the edge bounds and the band take their share

    @property
    def best_bid(self) -> int | None:
        return max((q.yes_view_price for q in self.quotes if q.is_bid), default=None)

    @property
    def best_ask(self) -> int | None:
        return min((q.yes_view_price for q in self.quotes if not q.is_bid), default=None)

    def summary(self) -> dict[str, Any]:
        """JSON-ready snapshot with the seed §5.1 StrategyState names, for logs and dashboards."""
        bids = [q for q in self.quotes if q.is_bid]
        asks = [q for q in self.quotes if not q.is_bid]
        best_bid, best_ask = self.best_bid, self.best_ask
        return {
            "market_id": self.market_id,
            "timestamp_ms": self.now_ms,
            "phase": self.state.phase.value,
            "fair_price_cents": self.fair.cents,
            "fair_price_raw": round(self.fair.raw, 4),
            "layer1_oracle_price": self.fair.oracle,
            "layer2_micro_price": self.fair.micro,
            "layer3_post_fill_price": self.fair.post_fill,
            "layer_weights": [round(self.fair.w_oracle, 4), round(self.fair.w_micro, 4), round(self.fair.w_post_fill, 4)],
            "oracle_status": self.fair.oracle_status,
            "sigma_cents": round(self.sigma_cents, 4),
            "gamma": self.gamma,
            "tau": round(self.tau, 6),
            "hours_remaining": self.hours_remaining,
            "reservation_price_cents": round(self.reservation_price, 4),
            "inventory_skew": round(self.skew, 6),
            "risk_skew": round(self.risk_skew, 6),
            "spread_cents": self.spread.cents,
            "bid_price_cents": best_bid,
            "ask_price_cents": best_ask,
            "bid_quantity": sum(q.quantity for q in bids if q.yes_view_price == best_bid),
            "ask_quantity": sum(q.quantity for q in asks if q.yes_view_price == best_ask),
            "orders": len(self.quotes),
            "replacements": len(self.replacements),
            "defense_level": self.defense.level.value,
            "defense_reason": self.defense.reason,
            "lvr_cooldown_until": self.state.lvr_cooldown_until,
            "lvr_velocity": round(self.lvr.velocity, 6),
            "mint_pairs": self.mint_pairs,
            "halt_reason": self.halt_reason,
            "phase_transition": self.phase_transition.to_dict() if self.phase_transition else None,
            "net_shares": self.net_shares,
            "exposure_cents": round(self.exposure_cents, 2),
            "exposure_skew": round(self.exposure_skew, 6),
            "risk": self.risk.to_dict() if self.risk else None,
            "arrival_rate_per_s": round(self.intensity.a_per_s, 6) if self.intensity else None,
            "arrival_decay_k": round(self.intensity.k_per_cent, 6) if self.intensity else None,
            "bounds": self.bounds.to_dict() if self.bounds else None,
            "level_sizes": [self.bid_size, self.ask_size],
            "reduce_only": self.reduce_only,
            "unwind": self.unwind,
        }

    def state_fields(self) -> dict[str, str]:
        """The strategy's fields of `amm:state:{market_id}` (SPEC §4); the runtime adds
        last_requote_ms, daily_pnl_cents, total_fills_today and kill_switch."""
        return {
            "phase": self.state.phase.value,
            "fair_price_cents": str(self.fair.cents),
            "sigma_cents": f"{self.sigma_cents:.4f}",
            "inventory_skew": f"{self.skew:.6f}",
            "lvr_cooldown_until": str(self.state.lvr_cooldown_until),
            "defense_level": self.defense.level.value,
        }


def decide(
    *,
    state: StrategyState,
    market: MarketInfo,
    inventory: Inventory,
    config: StrategyConfig,
    now_ms: int,
    book: LocalOrderBook | None = None,
    live_orders: Sequence[LiveOrder] = (),
    oracle: OracleReading | None = None,
    fills: Iterable[Fill] = (),
    daily_pnl_cents: int = 0,
    kill_switch: KillSwitchState = KillSwitchState.OFF,
    market_trades: Iterable[MarketTrade] = (),
) -> Decision:
    """Run one quote cycle (module docstring).

    Inputs (every one after `now_ms` is optional; the defaults are "nothing known"):
    - `book`: the market's YES-view book as last read (the AMM's own orders in it are taken
      out: book.external_top); it sets L2 of the fair price and, since issue 13, the post-only
      bounds (a bid below the best external ask, an ask above the best external bid).
    - `live_orders`: the AMM's open orders in this market.
    - `oracle`: the latest `amm:oracle:{market_id}` reading, or None.
    - `fills`: the AMM's own fills new since the last call (its trade feed).
    - `market_trades` (issue 13): the platform's trades in this market, anyone's, new since
      the last call (YES-view price, quantity, time, trade id); they teach the order-flow
      intensity (intensity.py) how far from fair trades happen and how often. Trades that are
      also in `fills` (same trade id) count once; with none passed, k is learned from the
      AMM's fills alone (and stays at the prior `arrival_decay_k` until there are some).
    - `market`: metadata; `trading_end_ms` drives γ, τ, the expiry risk, the size shrink and the
      reduce-only window; `maker_fee_bps` the fee protection and the edge.
    - `inventory`, `daily_pnl_cents`, `kill_switch`: as in `amm:inventory` / `amm:state`."""
    fills = tuple(fills)
    lo, hi = market.min_price_cents, market.max_price_cents
    fee_bps = market.worst_fee_bps

    # 1. Fair price.
    bid, bid_qty, ask, ask_qty = external_top(book, live_orders)
    micro = micro_price(bid, bid_qty, ask, ask_qty) if bid is not None and ask is not None and bid < ask else None
    micro_confidence = micro_depth_factor(bid_qty, ask_qty, config.order_size)
    hours = hours_remaining(market.trading_end_ms, now_ms)
    oracle_mem = oracle_remember(state.oracle, oracle, config, _expected_sigma(state, oracle, config, hours))
    check = oracle_check(oracle_mem, now_ms=now_ms, config=config,
                         book_price=micro if micro_confidence >= ORACLE_BOOK_MIN_CONFIDENCE else None)
    post = post_fill_update(state.post_fill, fills) if fills else state.post_fill
    fair = blend_fair(
        phase=state.phase, oracle=check, micro=micro, post_fill=post, now_ms=now_ms,
        previous=state.fair, initial=config.initial_fair_price_cents, lo=lo, hi=hi,
        micro_confidence=micro_confidence,
    )

    # 2. Samples, σ, LVR, order-flow intensity.
    retention = max(VOL_WINDOW_MS, config.price_stable_window_ms, ROLLBACK_WINDOW_MS)
    sample_ts, sample_px = append_sample(state.sample_ts, state.sample_px, now_ms=now_ms, price=fair.raw, retention_ms=retention)
    sigma, sigma_memo = sigma_at50_memo(sample_ts, sample_px, now_ms=now_ms, memo=state.sigma_memo)
    lvr = evaluate_lvr(
        prev_fair=state.fair, prev_ms=state.fair_ms, fair=fair.raw, now_ms=now_ms,
        cooldown_until_ms=state.lvr_cooldown_until, config=config,
    )
    flow = flow_update(state.flow, trade_distances(_traded_prices(fills, market_trades), state.fair),
                       now_ms=now_ms, half_life_ms=config.intensity_half_life_ms)
    learned = intensity(flow, config, now_ms)

    # 3. Phase.
    fill_volume = sum(f.quantity for f in fills if f.quantity > 0)
    phase, entered, last_rollback = state.phase, state.phase_entered_ms, state.last_rollback_ms
    phase_volume = state.phase_fill_volume + fill_volume
    transition = evaluate_phase(
        phase=phase, entered_ms=entered, last_rollback_ms=last_rollback, phase_volume=phase_volume,
        sample_ts=sample_ts, sample_px=sample_px, daily_pnl_cents=daily_pnl_cents, now_ms=now_ms, config=config,
        informed=fair.source == "LAYERS",
    )
    if transition is not None:
        phase, entered, phase_volume = transition.to_phase, now_ms, 0
        if transition.reason is PhaseTransitionReason.EMERGENCY_ROLLBACK:
            last_rollback = now_ms

    # 4. Exposure and defense.
    capacity = capacity_for(inventory, live_orders, config, fee_bps)
    skew = inventory.skew
    q_seed = inventory.risk_skew(config.skew_min_inventory)
    net = net_shares(inventory)
    exposure = exposure_cents(net, fair.raw)
    q = exposure_skew(exposure, config)
    defense = evaluate_defense(
        skew=q_seed,
        daily_pnl_cents=daily_pnl_cents,
        asset_value=asset_value_cents(capacity.cash_free, inventory.yes_volume, inventory.no_volume, fair.raw),
        config=config,
        kill_switch=kill_switch,
        oracle_status=check.status,
        exposure_skew=q,
    )

    # 5. γ, τ, the binary's risk, reservation price, spread.
    gamma = gamma_at(config, hours)
    tau = time_factor(hours, config.time_smoothing_kappa)
    risk = binary_risk(fair=fair.raw, sigma50=sigma, hours=hours, expiry_weight=config.expiry_risk_weight)
    shift = q * gamma * risk.variance
    cap = config.max_reservation_shift_cents
    reservation = fair.raw - (cap if shift > cap else -cap if shift < -cap else shift)
    phase_spread, phase_size = phase_multipliers(phase, config)
    full_size = level_size(config, phase_size * lvr.size_factor)
    shrink = expiry_size_factor(hours, config.expiry_size_horizon_ms)
    size = level_size(config, phase_size * lvr.size_factor * shrink)
    # The spread's inventory term takes the level size before it is cut to whole shares: the cut
    # jumps by a share where the unrounded size crosses an integer (a whole tier boundary's worth).
    unrounded = max(1.0, config.order_size * phase_size * lvr.size_factor * shrink)
    spread = compose_spread(
        gamma=gamma, sigma=sigma, tau=tau, fair=fair.raw, maker_fee_bps=market.maker_fee_bps,
        multiplier=phase_spread * defense.spread_multiplier * lvr.spread_multiplier, config=config,
        variance=risk.variance, exposure_step=exposure_step(unrounded, fair.raw, config), k=learned.k_per_cent,
    )

    # 6. Ladder.
    halt_reason: str | None = None
    reduce_only = (
        config.reduce_only_window_ms > 0 and market.trading_end_ms is not None
        and market.trading_end_ms - now_ms <= config.reduce_only_window_ms
    )
    if reduce_only and not defense.is_kill:
        defense = reduce_only_defense(defense, net)
    quote_bids, quote_asks = defense.quote_bids, defense.quote_asks
    if market.status != MARKET_ACTIVE:
        halt_reason = f"MARKET_{market.status}"
    elif market.trading_end_ms is not None and now_ms >= market.trading_end_ms:
        halt_reason = "TRADING_ENDED"
    elif defense.is_kill:
        halt_reason = f"KILL_SWITCH:{defense.reason}"
    elif reduce_only and not quote_bids and not quote_asks:
        halt_reason = "REDUCE_ONLY_FLAT"  # nothing held to sell down
    unwind = defense.level is DefenseLevel.ONE_SIDE and quote_bids != quote_asks
    bounds = quote_bounds(
        fair=fair.raw, edge=edge_cents(fair.raw, config.min_half_spread_cents, market.maker_fee_bps), lo=lo, hi=hi,
        unwind_loss=min(config.unwind_max_loss_cents, float(defense.distress_discount_cents)),
        unwind_bids=unwind and quote_bids, unwind_asks=unwind and quote_asks,
        external_bid=bid, external_ask=ask,
    )
    bid_size, ask_size = side_sizes(size=size, full_size=full_size, net=net, q=q, levels=config.order_levels,
                                    exponent=config.size_skew_exponent)
    bid_size, ask_size = (bid_size if quote_bids else 0), (ask_size if quote_asks else 0)
    quotes: tuple[DesiredQuote, ...] = ()
    if halt_reason is None:
        quotes = build_ladder(
            reservation=reservation, spread_cents=spread.cents, lo=lo, hi=hi, levels=config.order_levels,
            spacing=config.level_spacing_cents, size=size, capacity=capacity, fee_bps=fee_bps,
            quote_bids=quote_bids, quote_asks=quote_asks, discount_cents=defense.distress_discount_cents,
            bid_max=bounds.bid_max, ask_min=bounds.ask_min,
            bid_size=bid_size, ask_size=ask_size,
            bid_total=_a1_total(inventory, config, bid=True, want=-net if reduce_only else bid_size * config.order_levels),
            ask_total=_a1_total(inventory, config, bid=False, want=net if reduce_only else ask_size * config.order_levels),
            sell_only=reduce_only,
        )

    # 7. Mint and diff.
    ladder_cash = sum(q.cash_needed(fee_bps) for q in quotes)
    mint = mint_pairs(
        inventory=inventory, capacity=capacity, ladder_cash_cents=ladder_cash,
        target_per_side=config.order_levels * size, defense_level=defense.level,
        quoting=halt_reason is None and not reduce_only, config=config,
    )
    replacements = diff_orders(
        live_orders, quotes, price_tolerance_cents=config.quote_tolerance_cents,
        size_tolerance_pct=config.size_tolerance_pct, fee_bps=fee_bps,
    )

    new_state = StrategyState(
        market_id=state.market_id,
        phase=phase,
        phase_entered_ms=entered,
        last_rollback_ms=last_rollback,
        fair=fair.raw,
        fair_ms=now_ms,
        sample_ts=sample_ts,
        sample_px=sample_px,
        oracle=oracle_mem,
        post_fill=post,
        lvr_cooldown_until=lvr.cooldown_until_ms,
        phase_fill_volume=phase_volume,
        total_fill_volume=state.total_fill_volume + fill_volume,
        defense_level=defense.level,
        flow=flow,
        sigma_memo=sigma_memo,
    )
    return Decision(
        market_id=market.market_id,
        now_ms=now_ms,
        state=new_state,
        fair=fair,
        sigma_cents=sigma,
        gamma=gamma,
        tau=tau,
        hours_remaining=hours,
        skew=skew,
        risk_skew=q_seed,
        reservation_price=reservation,
        spread=spread,
        defense=defense,
        lvr=lvr,
        phase_transition=transition,
        quotes=quotes,
        replacements=replacements,
        mint_pairs=mint,
        engage_kill_switch=defense.is_kill and kill_switch != KillSwitchState.ON,
        halt_reason=halt_reason,
        net_shares=net,
        exposure_cents=exposure,
        exposure_skew=q,
        risk=risk,
        intensity=learned,
        bounds=bounds,
        reduce_only=reduce_only,
        unwind=unwind,
        bid_size=bid_size if halt_reason is None else 0,
        ask_size=ask_size if halt_reason is None else 0,
    )


def _expected_sigma(state: StrategyState, oracle: OracleReading | None, config: StrategyConfig,
                    hours: float | None) -> float:
    """How fast the price may move now, from the previous cycle's fair and σ: the oracle jump
    guard's yardstick, needed only when a reading moved by more than `oracle_gap_cents` (0
    otherwise, and before there is a fair price: the seed's fixed gap)."""
    last = state.oracle.price
    if state.fair is None or oracle is None or last is None or abs(oracle.price_cents - last) <= config.oracle_gap_cents:
        return 0.0
    memo = state.sigma_memo
    sigma50 = SIGMA_PRIOR_CENTS if memo is None or memo[2] is None else bound_sigma(memo[2])
    return expected_sigma_cents(fair=state.fair, sigma50=sigma50, hours=hours, expiry_weight=config.expiry_risk_weight)


def _a1_total(inventory: Inventory, config: StrategyConfig, *, bid: bool, want: int) -> int:
    """One side's total quoted shares: what the side wants, within invariant A1's room."""
    return a1_room(yes=inventory.yes_volume, no=inventory.no_volume, min_inventory=config.skew_min_inventory,
                   bid=bid, cap=max(0, want))


def _traded_prices(fills: Sequence[Fill], market_trades: Iterable[MarketTrade]) -> list[int]:
    """YES-view prices of the AMM's fills and the market's trades, a trade in both once."""
    prices = [f.price_cents for f in fills if f.quantity > 0]
    seen = {f.trade_id for f in fills if f.trade_id}
    for trade in market_trades:
        if trade.quantity > 0 and not (trade.trade_id and trade.trade_id in seen):
            prices.append(trade.price_cents)
    return prices


def _memo(raw: Any) -> tuple | None:
    if not raw or len(raw) != 3:
        return None
    return (int(raw[0]), int(raw[1]), None if raw[2] is None else float(raw[2]))


def _opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)
