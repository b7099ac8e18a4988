"""Per-market config: fields exactly the strategy's, validated, versioned, published, reloaded."""
from __future__ import annotations

import importlib
import io
from dataclasses import fields

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from amm import state
from amm.models import MarketConfig
from amm.services import config_publish, config_reload, config_update, instance_enable
from amm.strategy.config import StrategyConfig, parameter_specs

pytestmark = pytest.mark.django_db(transaction=True)

M = "MKT-CFG"


def test_model_fields_are_exactly_the_strategy_parameters():
    model_fields = {f.name: f for f in MarketConfig._meta.get_fields() if getattr(f, "concrete", False)}
    own = {"id", "instance", "version", "updated_by", "updated_at"}
    assert set(model_fields) - own == {f.name for f in fields(StrategyConfig)}
    kinds = {"int": "BigIntegerField", "float": "FloatField", "bool": "BooleanField", "str": "CharField"}
    for name, type_name, default, _lo, _hi, help_text in parameter_specs():
        field = model_fields[name]
        assert field.get_internal_type() == kinds[type_name], name
        assert field.default == default and help_text in field.help_text


def test_no_migration_is_missing():
    out = io.StringIO()
    call_command("makemigrations", "amm", "--check", "--dry-run", stdout=out)


def test_enable_writes_seed_defaults_to_redis(redis_conn):
    instance, created = instance_enable(market_id=M, budget_cents=300_000)
    assert created and instance.budget_cents == 300_000
    raw = state.config_get(M)
    assert raw["version"] == "1"
    parsed = StrategyConfig.from_mapping(raw)
    assert parsed == StrategyConfig(budget_limit_cents=300_000)
    for name in ("gamma_short", "gamma_mid", "gamma_long", "time_smoothing_kappa", "base_spread_cents",
                 "max_spread_cents", "budget_limit_cents", "position_limit", "max_loss_daily_cents",
                 "lvr_velocity_threshold", "lvr_cooldown_ms", "oracle_stale_ms", "oracle_deviation_cents",
                 "oracle_gap_cents"):
        assert name in raw  # the 14 parameters of seed §4.4
    assert (raw["gamma_short"], raw["lvr_velocity_threshold"], raw["oracle_stale_ms"]) == ("2.5", "0.1", "30000")


def test_every_save_bumps_the_version_and_rewrites_redis(redis_conn):
    instance_enable(market_id=M)
    config_update(market_id=M, actor="ops", base_spread_cents=3)
    config_update(market_id=M, actor="ops", gamma_short=3.0)
    config = MarketConfig.objects.get(instance__market_id=M)
    assert config.version == 3 and config.updated_by == "ops"
    assert state.config_get(M)["version"] == "3" and state.config_get(M)["gamma_short"] == "3.0"


def test_invalid_values_are_refused_with_clear_messages_and_nothing_changes(redis_conn):
    instance_enable(market_id=M)
    before = state.config_get(M)
    with pytest.raises(ValidationError) as info:
        config_update(market_id=M, base_spread_cents=0, max_spread_cents=200, gamma_short=-1.0)
    errors = info.value.message_dict
    assert errors["base_spread_cents"] == ["must be at least 1 (got 0)"]
    assert errors["max_spread_cents"] == ["must be at most 98 (got 200)"]
    assert errors["gamma_short"] == ["must be at least 0.0 (got -1.0)"]
    with pytest.raises(ValidationError) as info:
        config_update(market_id=M, base_spread_cents=10, max_spread_cents=5)
    assert "base_spread_cents" in info.value.message_dict["max_spread_cents"][0]
    with pytest.raises(ValueError):
        config_update(market_id=M, no_such_parameter=1)
    assert MarketConfig.objects.get(instance__market_id=M).version == 1
    assert state.config_get(M) == before


def test_order_levels_below_2_is_refused_naming_spec_6(redis_conn):
    instance_enable(market_id=M)
    with pytest.raises(ValidationError) as info:
        config_update(market_id=M, order_levels=1)
    (message,) = info.value.message_dict["order_levels"]
    assert message == "must be at least 2 (got 1): 2..10 levels per side give SPEC §6's 4–20 live orders per market"
    assert MarketConfig.objects.get(instance__market_id=M).order_levels == 2
    assert config_update(market_id=M, order_levels=10).order_levels == 10


def test_migration_0002_raises_single_level_configs_to_2(redis_conn):
    from django.apps import apps

    migration = importlib.import_module("amm.migrations.0002_order_levels_4_to_20_live_orders")
    instance_enable(market_id=M)
    MarketConfig.objects.filter(instance__market_id=M).update(order_levels=1)  # valid before 0002
    migration.raise_single_level_configs(apps, None)
    config = MarketConfig.objects.get(instance__market_id=M)
    assert (config.order_levels, config.version, config.updated_by) == (2, 2, "migration amm.0002")
    config.full_clean()


def test_reload_returns_a_new_config_only_when_the_version_moved(redis_conn):
    instance_enable(market_id=M)
    version, config = config_reload(market_id=M, known_version=None)
    assert version == 1 and config == StrategyConfig()
    assert config_reload(market_id=M, known_version=1) is None
    config_update(market_id=M, order_levels=3)
    version, config = config_reload(market_id=M, known_version=1)
    assert version == 2 and config.order_levels == 3
    redis_conn.delete(f"amm:config:{M}")  # Redis lost it: republished from the database
    assert config_reload(market_id=M, known_version=2) is None
    assert state.config_version(M) == 2
    assert config_publish(market_id=M) == 2
    assert config_reload(market_id="NOT-ENABLED", known_version=None) is None
