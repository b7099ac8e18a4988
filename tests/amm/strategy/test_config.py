"""StrategyConfig: the seed's defaults as literals (SPEC §4), and ranges that keep SPEC §6's
4–20 live orders."""
from dataclasses import fields

import pytest

from amm.strategy.config import ConfigError, StrategyConfig, parameter_specs
from amm.strategy.ladder import Capacity, build_ladder

# SPEC §4 `amm:config:{market_id}` (seed §4.4), copied from the text, not from the code: a
# wrong default in StrategyConfig must fail here.
SEED_CONFIG_DEFAULTS = {
    "gamma_short": 2.5,
    "gamma_mid": 1.5,
    "gamma_long": 0.8,
    "time_smoothing_kappa": 24.0,
    "base_spread_cents": 2,
    "max_spread_cents": 15,
    "budget_limit_cents": 500_000,
    "position_limit": 5_000,
    "max_loss_daily_cents": 50_000,
    "lvr_velocity_threshold": 0.10,
    "lvr_cooldown_ms": 5_000,
    "oracle_stale_ms": 30_000,
    "oracle_deviation_cents": 5,
    "oracle_gap_cents": 5,
}


def test_the_14_seed_parameters_default_to_the_seed_values():
    config = StrategyConfig()
    declared = {f.name: f.type for f in fields(StrategyConfig)}
    assert len(SEED_CONFIG_DEFAULTS) == 14
    for name, seed in SEED_CONFIG_DEFAULTS.items():
        value = getattr(config, name)
        assert value == seed, f"{name}: {value!r} != seed {seed!r}"
        assert declared[name] == type(seed).__name__, name  # cents, ms and shares are whole numbers


def _order_levels_range() -> tuple[int, int]:
    (lo, hi), = [(lo, hi) for name, *_, lo, hi, _help in parameter_specs() if name == "order_levels"]
    return lo, hi


def test_every_valid_order_levels_quotes_4_to_20_orders():
    """SPEC §6: 4–20 live orders per market. A two-sided ladder with room on both sides has
    one order per level and side, so the accepted range is 2..10 levels per side."""
    lo, hi = _order_levels_range()
    roomy = Capacity(10**6, 10**6, 10**9, 10**9, 10**6, 10**6)
    counts = {}
    for levels in range(lo, hi + 1):
        config = StrategyConfig(order_levels=levels)
        quotes = build_ladder(reservation=50.0, spread_cents=config.base_spread_cents, lo=1, hi=99,
                              levels=config.order_levels, spacing=config.level_spacing_cents,
                              size=config.order_size, capacity=roomy, fee_bps=0)
        counts[levels] = len(quotes)
    assert min(counts.values()) == 4 and max(counts.values()) == 20, counts


@pytest.mark.parametrize("levels, message", [
    (1, "must be at least 2 (got 1)"),
    (0, "must be at least 2 (got 0)"),
    (11, "must be at most 10 (got 11)"),
])
def test_order_levels_outside_2_to_10_is_refused_with_the_reason(levels, message):
    with pytest.raises(ConfigError) as info:
        StrategyConfig(order_levels=levels)
    text = info.value.errors["order_levels"]
    assert text.startswith(message) and "4–20 live orders" in text
