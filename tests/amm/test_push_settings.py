"""Issue 15's push and scale settings: refused by name when bad, push on by default."""
from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from amm.conf import configure


@pytest.mark.parametrize("given, message", [
    ({"AMM_EVENTS_REDIS_URL": "http://127.0.0.1:6379/0"}, "AMM_EVENTS_REDIS_URL must be a redis://"),
    ({"AMM_EVENTS_CLAIM_IDLE_MS": 0}, "AMM_EVENTS_CLAIM_IDLE_MS, _BLOCK_MS and _BATCH must be > 0"),
    ({"AMM_EVENTS_BATCH": -1}, "AMM_EVENTS_CLAIM_IDLE_MS, _BLOCK_MS and _BATCH must be > 0"),
    ({"AMM_TICK_LANE_ALIVE_MS": 500}, "AMM_TICK_LANE_ALIVE_MS must be >= 1000"),
    ({"AMM_TICK_LANE_HELP_MS": -1}, "AMM_TICK_LANE_HELP_MS must be >= 0"),
    ({"AMM_TICK_LANE_THREADS": 0}, "AMM_TICK_LANE_THREADS must be >= 1"),
])
def test_a_bad_push_setting_is_refused_by_name(given, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        configure(given)


def test_push_is_on_by_default_and_the_stream_defaults_to_the_amms_redis():
    values = configure({"AMM_EVENTS_REDIS_URL": "unix:///run/redis.sock?db=2"})
    assert values["AMM_PUSH"] is True and values["AMM_BOOK_PUSH"] is True and values["AMM_EVENTS_GROUP"] == "amm"
    assert configure({})["AMM_EVENTS_REDIS_URL"] == ""  # unset: REDIS_URL (amm/runtime/context.py)
