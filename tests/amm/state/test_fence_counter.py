"""Fencing tokens come from one counter for every lease (`amm:fence`: a key per market cost
88 bytes of Redis memory each), strictly increasing across resources and so within each, and
above what an older version's per-resource counter had handed out."""
from __future__ import annotations

from amm import state
from amm.state import keys as K


def test_fencing_tokens_grow_across_resources_from_one_counter_and_honour_an_older_versions(redis_conn):
    first = state.lease_acquire("market:A", "a", ttl_ms=10_000)
    second = state.lease_acquire("market:B", "b", ttl_ms=10_000)
    assert second > first and int(redis_conn.get(K.FENCE)) == second
    assert redis_conn.exists(K.legacy_fence_key("market:A"), K.legacy_fence_key("market:B")) == 0
    ahead = second + 10**12  # an older version's counter of market C (a clock that ran ahead, say)
    redis_conn.set(K.legacy_fence_key("market:C"), ahead)
    third = state.lease_acquire("market:C", "c", ttl_ms=10_000)
    assert third > ahead and redis_conn.exists(K.legacy_fence_key("market:C")) == 0
    state.lease_release("market:A", "a")
    assert state.lease_acquire("market:A", "a2", ttl_ms=10_000) > third
