"""Per-market AMM configuration: every parameter declared once, with default, range and meaning.

This is the single source of truth for parameter names (SPEC §4 `amm:config:{market_id}`):
the durable Django config model, the admin form, the Redis hash and the strategy all read
the declarations below. Pure Python: no Django, no Redis.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping


class ConfigError(ValueError):
    """A config value is missing, malformed or out of range; `errors` maps field -> message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in errors.items()))


def _param(default: Any, lo: float | None, hi: float | None, help_text: str, why: str = "",
           choices: tuple[str, ...] = ()) -> Any:
    """A parameter: default, inclusive range, help text, and `why` the range is what it is
    (added to an out-of-range message); a text parameter may list its `choices`."""
    return field(default=default, metadata={"min": lo, "max": hi, "help": help_text, "why": why, "choices": choices})


@dataclass(frozen=True)
class StrategyConfig:
    # --- the 14 parameters of the seed (§4.4), seed defaults ---------------------------
    gamma_short: float = _param(2.5, 0.0, 50.0, "risk aversion γ (unitless) for markets ending within 7 days")
    gamma_mid: float = _param(1.5, 0.0, 50.0, "risk aversion γ (unitless) for markets ending in 7-30 days")
    gamma_long: float = _param(0.8, 0.0, 50.0, "risk aversion γ (unitless) for markets ending after 30 days")
    time_smoothing_kappa: float = _param(
        24.0, 0.01, 10000.0, "κ in hours of τ(h) = h/(h+κ), reported with each decision (the size shrink near the end "
        "follows expiry_size_horizon_ms)"
    )
    base_spread_cents: int = _param(2, 1, 50, "base quoted spread (ask - bid) in cents")
    max_spread_cents: int = _param(15, 1, 98, "cap on the quoted spread in cents")
    budget_limit_cents: int = _param(500_000, 0, 10**12, "most cash in cents the AMM may commit to this market (its budget)")
    position_limit: int = _param(5_000, 0, 10**9, "most shares of one side the AMM may hold (shares)")
    max_loss_daily_cents: int = _param(50_000, 0, 10**12, "daily loss in cents that engages the kill switch")
    lvr_velocity_threshold: float = _param(
        0.10, 0.0, 10.0, "fair-price speed (fraction of 100 cents per second) that starts the LVR cooldown"
    )
    lvr_cooldown_ms: int = _param(5_000, 0, 3_600_000, "LVR cooldown length in ms")
    oracle_stale_ms: int = _param(30_000, 0, 86_400_000, "oracle older than this many ms gets weight 0")
    oracle_deviation_cents: int = _param(5, 0, 99, "oracle farther than this many cents from the book is distrusted")
    oracle_gap_cents: int = _param(5, 0, 99, "oracle jump larger than this many cents between readings is distrusted")
    # --- what the strategy and runtime need beyond the seed ------------------------------
    requote_interval_ms: int = _param(1_000, 50, 3_600_000, "quote cycle interval in ms")
    order_levels: int = _param(
        2, 2, 10, "orders per side (count; 4..20 live orders per market)",
        why="2..10 levels per side give SPEC §6's 4–20 live orders per market",
    )
    level_spacing_cents: int = _param(1, 1, 20, "price step between ladder levels in cents")
    order_size: int = _param(100, 1, 10**7, "shares per ladder level before phase/defense scaling")
    initial_fair_price_cents: int = _param(50, 1, 99, "fair price in cents with no oracle, no book and no fills")
    exploration_duration_ms: int = _param(1_800_000, 0, 10**10, "EXPLORATION ends after this many ms (TIME_EXPIRED)")
    exploration_volume_target: int = _param(1_000, 0, 10**9, "AMM fill volume in shares that ends EXPLORATION (VOLUME_REACHED)")
    exploration_spread_multiplier: float = _param(2.0, 1.0, 10.0, "spread multiplier (×) in EXPLORATION")
    exploration_size_factor: float = _param(0.5, 0.01, 1.0, "size multiplier (×) in EXPLORATION")
    price_stable_window_ms: int = _param(300_000, 1_000, 86_400_000, "window in ms for PRICE_STABLE")
    price_stable_band_cents: int = _param(2, 0, 99, "fair price range in cents within the window for PRICE_STABLE")
    min_asset_floor_cents: int = _param(0, 0, 10**12, "A3: cash + inventory at fair, in cents, below this kills")
    quote_tolerance_cents: int = _param(0, 0, 10, "a live order within this many cents of the desired price is kept")
    size_tolerance_pct: int = _param(20, 0, 100, "a live order within this many percent of the desired size is kept")
    auto_reinvest: bool = _param(True, None, None, "mint pairs from idle cash within the budget")
    dead_man_timeout_ms: int = _param(10_000, 1_000, 600_000, "platform cancel-all-after timeout in ms")
    oracle_url_template: str = _param("", None, None, "JSON oracle endpoint, {market_id} substituted")
    # --- the oracle feed (amm/oracle, SPEC §6): read by the poller, ignored by the strategy -------
    oracle_adapter: str = _param(
        "", None, None, "oracle adapter name of AMM_ORACLE_ADAPTERS (http_json, sim, ...); blank: no oracle"
    )
    oracle_json_path: str = _param(
        "probability", None, None, "dotted path to the value in the oracle's JSON answer (data.probability, price)"
    )
    oracle_ts_json_path: str = _param(
        "", None, None, "dotted path to the source's timestamp (epoch ms or s, or ISO 8601); blank: the fetch time"
    )
    oracle_unit: str = _param(
        "probability", None, None, "unit of the oracle value: probability (0..1) or cents (0..100)",
        choices=("probability", "cents"),
    )
    oracle_poll_interval_ms: int = _param(2_000, 100, 3_600_000, "oracle poll interval in ms")
    oracle_timeout_ms: int = _param(
        1_000, 50, 5_000, "oracle request timeout in ms (the whole answer)",
        why="a poll holds a worker that quote cycles share: a slow source must let go of it soon",
    )
    # --- added by the strategy engine (amm/strategy, SPEC §5/§6) ----------------------------
    arrival_decay_k: float = _param(
        1.5, 0.01, 100.0,
        "prior of the A-S order-arrival decay k (per cent from fair) of the spread term (2/γ)·ln(1+γ/k); "
        "the strategy learns k from the market's trades (intensity_prior_trades)"
    )
    max_reservation_shift_cents: int = _param(
        10, 0, 98, "cap on |r − s|, the inventory shift q·γ·V of the reservation price, in cents"
    )
    skew_min_inventory: int = _param(
        100, 0, 10**9, "shares; the seed's skew for invariant A1 and the defense is (YES − NO) / max(YES + NO, this): "
        "small books are not ±1"
    )
    # --- quote quality (issue 13): edge, expiry, exposure, order flow ---------------------
    min_half_spread_cents: float = _param(
        1.0, 0.5, 20.0,
        "cents (plus the maker fee per share): a bid is never above fair − this, an ask never below fair + it, "
        "outside the unwind mode",
        why="0.5 keeps the best bid below the best ask at any fair price",
    )
    unwind_max_loss_cents: float = _param(
        2.0, 0.0, 20.0,
        "cents per share: in the unwind mode (ONE_SIDE defense, reduce-only window) the reducing quote may sit "
        "through fair by the distress discount (0-5 c as the skew goes 0.90 to 0.95), at most this far; "
        "0: never through fair",
    )
    reduce_only_window_ms: int = _param(
        60_000, 0, 30 * 86_400_000,
        "ms before trading end in which the AMM only reduces its net position (sells what it holds) and mints "
        "nothing; 0: off",
    )
    expiry_size_horizon_ms: int = _param(
        86_400_000, 0, 30 * 86_400_000,
        "ms before trading end from which the quoted size shrinks with √(time left / this), the pm-AMM's √(T − t) "
        "that keeps the expected loss to arbitrage uniform in time; full size before it; 0: no shrink",
    )
    expiry_risk_weight: float = _param(
        1.0, 0.0, 10.0,
        "weight (×) of the binary's expiry risk: the pm-AMM probit variance rate 1/(T − t) that makes the price "
        "risk grow to the settlement jump p(100 − p) as trading end nears; 0: realized σ only",
    )
    exposure_limit_pct: int = _param(
        20, 1, 100,
        "percent of budget_limit_cents: the net directional exposure (YES − NO shares at fair value, in cents) "
        "that counts as inventory skew ±1 for pricing and defense",
    )
    exposure_target_pct: int = _param(
        0, -90, 90,
        "percent of the exposure limit: the net exposure the AMM steers to (+ long YES, − long NO); 0: flat",
    )
    size_skew_exponent: float = _param(
        1.0, 0.0, 10.0,
        "the side that adds exposure quotes size × (1 − |skew|)^this (no new exposure at the limit); 0: unskewed",
    )
    intensity_prior_trades: float = _param(
        20.0, 0.0, 10_000.0,
        "weight of the arrival_decay_k prior in trades: the learned k is (n0 + n) / (n0/k0 + Σ distance) over "
        "the decayed trades",
    )
    arrival_decay_k_min: float = _param(
        0.2, 0.01, 100.0, "floor of the learned arrival decay k (per cent): the spread term never exceeds (2/γ)·ln(1+γ/k_min)"
    )
    intensity_half_life_ms: int = _param(
        600_000, 1_000, 86_400_000, "half-life in ms of the trades the order-flow intensity (A, k) is learned from"
    )

    def __post_init__(self) -> None:
        errors = validate_values({f.name: getattr(self, f.name) for f in fields(self)})
        if errors:
            raise ConfigError(errors)

    def as_redis_mapping(self) -> dict[str, str]:
        """Flat str -> str mapping for the `amm:config:{market_id}` hash."""
        return {f.name: _to_text(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "StrategyConfig":
        """Parse a mapping of strings or values (a Redis hash, a form); unknown keys are ignored,
        missing keys take the default; malformed values raise ConfigError naming each field."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for f in fields(cls):
            if f.name not in raw:
                continue
            try:
                values[f.name] = _coerce(f.type, raw[f.name])
            except (TypeError, ValueError):
                errors[f.name] = f"{raw[f.name]!r} is not a valid {f.type}"
        if errors:
            raise ConfigError(errors)
        return cls(**values)


# SPEC §4 / seed §4.4: the parameters `amm:config:{market_id}` always shows, by name.
SEED_PARAMETERS = (
    "gamma_short", "gamma_mid", "gamma_long", "time_smoothing_kappa", "base_spread_cents", "max_spread_cents",
    "budget_limit_cents", "position_limit", "max_loss_daily_cents", "lvr_velocity_threshold", "lvr_cooldown_ms",
    "oracle_stale_ms", "oracle_deviation_cents", "oracle_gap_cents",
)

def parameter_specs() -> list[tuple[str, str, Any, float | None, float | None, str]]:
    """(name, type name, default, min, max, help) for every parameter, in declaration order."""
    return [
        (f.name, str(f.type), f.default, f.metadata["min"], f.metadata["max"], f.metadata["help"])
        for f in fields(StrategyConfig)
    ]


def parameter_choices() -> dict[str, tuple[str, ...]]:
    """The text parameters that accept only some values, and those values."""
    return {f.name: f.metadata["choices"] for f in fields(StrategyConfig) if f.metadata["choices"]}


def validate_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Range and consistency checks; returns field -> message (empty when valid)."""
    errors: dict[str, str] = {}
    for f in fields(StrategyConfig):
        if f.name not in values:
            continue
        value = values[f.name]
        lo, hi = f.metadata["min"], f.metadata["max"]
        if f.type in ("int", "float") and isinstance(value, bool):
            errors[f.name] = "must be a number"
            continue
        if f.type == "int" and not isinstance(value, int):
            errors[f.name] = "must be a whole number"
            continue
        if f.type == "float" and not isinstance(value, (int, float)):
            errors[f.name] = "must be a number"
            continue
        why = f": {f.metadata['why']}" if f.metadata["why"] else ""
        if f.metadata["choices"] and value not in f.metadata["choices"]:
            errors[f.name] = f"must be one of {', '.join(f.metadata['choices'])} (got {value!r})"
        elif lo is not None and value < lo:
            errors[f.name] = f"must be at least {lo} (got {value}){why}"
        elif hi is not None and value > hi:
            errors[f.name] = f"must be at most {hi} (got {value}){why}"
    base, cap = values.get("base_spread_cents"), values.get("max_spread_cents")
    if isinstance(base, int) and isinstance(cap, int) and "max_spread_cents" not in errors and cap < base:
        errors["max_spread_cents"] = f"must be at least base_spread_cents ({base})"
    return errors


def _coerce(type_name: str, value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if type_name == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ValueError(value)
    if type_name == "int":
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
    if type_name == "float":
        return float(value)
    return str(value)


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
