"""`manage.py amm_enable MARKET_ID [--budget CENTS]`."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from amm import state
from amm.models import AMMInstance, MarketConfig
from tests.amm.strategy.test_config import SEED_CONFIG_DEFAULTS

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args) -> str:
    out = io.StringIO()
    call_command("amm_enable", *args, stdout=out)
    return out.getvalue()


def test_amm_enable_creates_instance_config_and_redis_config(redis_conn):
    assert "AMM enabled for MKT-EN" in run("MKT-EN", "--budget", "250000")
    instance = AMMInstance.objects.get(market_id="MKT-EN")
    assert (instance.lifecycle_state, instance.phase, instance.defense_level, instance.kill_switch) == (
        "STOPPED", "EXPLORATION", "NORMAL", "OFF")
    config = MarketConfig.objects.get(instance=instance)
    assert config.budget_limit_cents == 250_000 and config.gamma_short == 2.5 and config.version == 1
    assert state.config_get("MKT-EN")["budget_limit_cents"] == "250000"
    assert "already enabled" in run("MKT-EN")
    assert AMMInstance.objects.count() == 1 and MarketConfig.objects.get(instance=instance).version == 1


def test_amm_enable_writes_the_seed_defaults_to_the_database_and_redis(redis_conn):
    """SPEC §4: the 14 parameters of `amm:config:{market_id}` as the seed gives them, checked
    against literal values (tests/amm/strategy/test_config.py), not against StrategyConfig()."""
    run("MKT-SEED")
    config = MarketConfig.objects.get(instance__market_id="MKT-SEED")
    raw = redis_conn.hgetall("amm:config:MKT-SEED")
    assert raw["version"] == "1"
    for name, seed in SEED_CONFIG_DEFAULTS.items():
        assert getattr(config, name) == seed, name
        if isinstance(seed, int):
            assert raw[name] == str(seed), name  # a whole number, written as one
        else:
            assert float(raw[name]) == seed, name
