"""The runtime cycle's two round trips (issue 15): `cycle_begin` starts the job run, takes the
market's lease when it is free and only then reads the market; `cycle_close` commits,
releases the lease only while it is still the caller's, finishes the job run and peeks at
the job queue's head."""
from __future__ import annotations

from dataclasses import replace

import amm.state.keys as K
from amm import state
from tests.amm.conftest import redis_sends
from amm.state.lua import SOURCES

M = "MKT-T"
LEASE = f"market:{M}"
JOB = f"quote:{M}"
FILL = {"price_cents": 40, "quantity": 3}


def _begin(token: str = "mine") -> state.CycleBegin:
    return state.cycle_begin(M, lease=LEASE, token=token, ttl_ms=3000, job=JOB, job_ttl_ms=2500)


def _job_with_a_rerun_waiting() -> None:
    assert state.job_request(JOB, "job-1", reason="tick", ttl_ms=60_000)  # queued
    assert not state.job_request(JOB, "job-2", reason="fill", ttl_ms=60_000)  # a fill's request meanwhile


def _normalised(read: state.CycleRead) -> state.CycleRead:
    return replace(read, fills=[], quote=replace(read.quote, read_at_ms=0))


def test_cycle_begin_takes_the_lease_and_reads_what_runtime_cycle_read_reads_in_one_round_trip(
        market_in_redis, redis_conn, monkeypatch):
    state.runtime_update(M, resync="test", tape_id=7)
    state.cycle_commit(M, state_fields={"fair_price_cents": 52}, strategy={"market_id": M, "fair": 52.5},
                       book={"sequence_id": 3, "bids": [[50, 10]], "asks": [], "fetched_ms": 1, "own": "x"}, now=5)
    state.push_book_write(M, {"sequence_id": 4, "bids": [[51, 1]], "asks": [[53, 2]]}, now=6)
    state.push_book_alive(6)
    state.market_push_refresh([M], {M: 4}, now=6, tapes={M: [{"id": 1, "price_cents": 52, "quantity": 1,
                                                               "executed_ms": 5}]})
    state.deadman_record(armed_at_ms=1, timeout_ms=10_000)
    expected = state.runtime_cycle_read(M)
    earlier = state.lease_acquire(LEASE, "earlier", ttl_ms=3000)
    assert state.lease_release(LEASE, "earlier")
    state.fills_push(M, [FILL])
    _job_with_a_rerun_waiting()

    redis_conn.script_load(SOURCES["cycle_begin"])  # a server new to the script answers NOSCRIPT once
    sends = redis_sends(monkeypatch)
    begun = _begin()

    assert len(sends) == 1
    assert begun.again == "fill"  # the run serves the request that came while it waited
    assert redis_conn.get(K.rerun_key(JOB)) is None and 0 < redis_conn.pttl(K.job_key(JOB)) <= 2500
    assert begun.fencing_token > earlier and state.lease_holder(LEASE) == "mine"
    assert begun.read.fills == [FILL] and state.runtime_cycle_read(M).fills == []  # taken
    assert _normalised(begun.read) == _normalised(expected)
    assert begun.read.strategy == {"market_id": M, "fair": 52.5} and begun.read.push_book is not None


def test_cycle_begin_refuses_while_another_holds_the_lease_and_reads_nothing(market_in_redis, redis_conn):
    fence = state.lease_acquire(LEASE, "other", ttl_ms=3000)
    state.fills_push(M, [FILL])
    _job_with_a_rerun_waiting()

    begun = _begin()

    assert begun.fencing_token is None and begun.read is None
    assert begun.again == "fill"  # the job run started all the same (job_started's part)
    assert state.lease_holder(LEASE) == "other"
    assert redis_conn.get(K.FENCE) == str(fence)  # no fencing token handed out
    assert state.runtime_cycle_read(M).fills == [FILL]  # left for the holder's cycle


def test_cycle_close_commits_finishes_the_job_run_and_releases_only_its_own_lease(market_in_redis, redis_conn):
    state.lease_acquire(LEASE, "other", ttl_ms=3000)  # the lease was taken over meanwhile
    _job_with_a_rerun_waiting()
    redis_conn.rpush("rq:queue:amm", "amm-quote-MKT-X-1a2b3c4d")

    closed = state.cycle_close(M, now=1234, outcome="unchanged", latency_s=0.004, commit=True,
                               state_fields={"fair_price_cents": 52, "last_requote_ms": 1200},
                               strategy={"market_id": M, "fair": 52.5}, runtime={"last_reason": "tick"},
                               lease=LEASE, token="mine", job=JOB, job_ttl_ms=2500, queue="rq:queue:amm")

    assert state.lease_holder(LEASE) == "other"  # not ours: not released
    assert closed.again == "fill" and redis_conn.exists(K.job_key(JOB))  # run again: marker kept
    assert closed.queue_head == "amm-quote-MKT-X-1a2b3c4d"
    assert state.state_get(M)["last_requote_ms"] == 1200 and state.strategy_get(M) == {"market_id": M, "fair": 52.5}
    runtime = state.runtime_get(M)
    assert (runtime["last_cycle_ms"], runtime["cycles"], runtime["last_reason"]) == (1234, 1, "tick")
    assert redis_conn.hget(K.RUN, "last_cycle_ms") == "1234"
    assert redis_conn.hget(K.METRICS_CYCLE_LATENCY, "unchanged:0.005") == "1"

    state.lease_release(LEASE, "other")
    state.lease_acquire(LEASE, "mine", ttl_ms=3000)
    closed = state.cycle_close(M, now=1300, outcome="idle", latency_s=0.001, heartbeat_ms=1310, lease=LEASE,
                               token="mine", job=JOB, job_ttl_ms=2500)
    assert state.lease_holder(LEASE) is None  # ours: released
    assert closed == state.CycleClose(None, None) and not redis_conn.exists(K.job_key(JOB))  # job run over
    assert state.runtime_get(M)["cycles"] == 1  # no commit: heartbeat and latency only
    assert redis_conn.hget(K.RUN, "last_cycle_ms") == "1310"
    assert redis_conn.hget(K.METRICS_CYCLE_LATENCY, "idle:0.005") == "1"


def test_cycle_begin_takes_its_fencing_token_above_an_older_versions_counter_of_the_market(market_in_redis,
                                                                                             redis_conn):
    """The cycle's own lease taking (the script, not lease_acquire) honours the per-market
    counter an older version kept, and deletes it, as lease_acquire does."""
    ahead = int(redis_conn.get(K.FENCE) or 0) + 10**12
    redis_conn.set(K.legacy_fence_key(LEASE), ahead)
    begun = _begin()
    assert begun.fencing_token is not None and begun.fencing_token > ahead
    assert redis_conn.exists(K.legacy_fence_key(LEASE)) == 0
    assert int(redis_conn.get(K.FENCE)) == begun.fencing_token
