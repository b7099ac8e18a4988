"""`amm:config:{m}` kept compact (issue 15: Redis memory per market): the seed's 14 parameters
(SPEC §4) and the version always, the other parameters only where they differ from their
default; every reader gets the whole config back, whatever was stored, and a full hash an
older version wrote reads the same."""
from __future__ import annotations

from dataclasses import fields, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amm import state
from amm.state import keys as K
from amm.state.live import markets_live_read
from amm.strategy import StrategyConfig
from amm.strategy.config import SEED_PARAMETERS

M = "MKT-CONFIG-COMPACT"
EXTENSIONS = [f.name for f in fields(StrategyConfig) if f.name not in SEED_PARAMETERS]


def test_a_default_config_stores_the_seed_parameters_and_its_version_only(redis_conn):
    state.config_write(M, StrategyConfig().as_redis_mapping(), version=4)
    stored = redis_conn.hgetall(K.config_key(M))
    assert set(stored) == {*SEED_PARAMETERS, K.CONFIG_VERSION_FIELD}
    assert redis_conn.memory_usage(K.config_key(M)) < 600  # the seed's App. C puts the key at ~400 B
    assert state.config_get(M) == {**StrategyConfig().as_redis_mapping(), "version": "4"}


def test_a_changed_parameter_beyond_the_seed_is_stored_and_a_seed_one_at_its_default_still_shows(redis_conn):
    config = replace(StrategyConfig(), order_levels=5, requote_interval_ms=250)
    state.config_write(M, config.as_redis_mapping(), version=2)
    stored = redis_conn.hgetall(K.config_key(M))
    assert stored["order_levels"] == "5" and stored["requote_interval_ms"] == "250"
    assert stored["gamma_short"] == "2.5"  # seed parameters show even at their defaults
    assert "order_size" not in stored
    assert StrategyConfig.from_mapping(state.config_get(M)) == config
    many = state.config_fields_many([M, "MKT-NONE"], ["requote_interval_ms", "order_size", "dead_man_timeout_ms"])
    assert many[M] == {"requote_interval_ms": "250", "order_size": str(StrategyConfig().order_size),
                       "dead_man_timeout_ms": str(StrategyConfig().dead_man_timeout_ms)}
    assert many["MKT-NONE"] == {"requote_interval_ms": None, "order_size": None, "dead_man_timeout_ms": None}
    assert state.config_get("MKT-NONE") == {}


def test_the_live_read_shows_every_parameter(redis_conn):
    config = replace(StrategyConfig(), order_levels=3)
    state.config_write(M, config.as_redis_mapping(), version=7)
    live = markets_live_read([M])[M]
    assert live["config_version"] == 7
    assert live["config"] == config.as_redis_mapping()


def test_a_full_hash_an_older_version_wrote_reads_the_same(redis_conn):
    config = replace(StrategyConfig(), gamma_mid=1.25, skew_min_inventory=50)
    redis_conn.hset(K.config_key(M), mapping={**config.as_redis_mapping(), "version": "9"})
    assert StrategyConfig.from_mapping(state.config_get(M)) == config
    assert state.config_version(M) == 9


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changed=st.sets(st.sampled_from(EXTENSIONS), max_size=8), data=st.data())
def test_any_config_round_trips_through_the_compact_hash(redis_conn, changed, data):
    config = StrategyConfig()
    for name in sorted(changed):
        current = getattr(config, name)
        if isinstance(current, bool) or isinstance(current, str):
            continue
        spec = {f.name: f for f in fields(StrategyConfig)}[name].metadata
        lo, hi = spec["min"], spec["max"]
        value = data.draw(st.integers(int(lo), int(min(hi, lo + 10**6))) if isinstance(current, int)
                          else st.floats(lo, min(hi, lo + 10**6), allow_nan=False), label=name)
        config = replace(config, **{name: value})
    state.config_write(M, config.as_redis_mapping(), version=1)
    assert StrategyConfig.from_mapping(state.config_get(M)) == config
