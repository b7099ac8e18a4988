"""StrategyConfig: the seed's defaults as literals (SPEC §4)."""
from dataclasses import fields

from amm.strategy.config import StrategyConfig

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
