"""Quote cycles run as unique jobs (the bodies of amm.jobs.quote and amm.jobs.quote_batch):
one market's cycle, again while requotes were requested meanwhile; and a batch of periodic
cycles (an RQ job's, which gives way when a single market's cycle — a fill's, a status
change's, an operator's — or the feed waits at the head of the queue; or a tick lane's,
amm/runtime/tick_lane.py)."""
from __future__ import annotations

import logging
from typing import Callable

from amm import state
from amm.runtime import cycle  # cycle.quote_cycle read at each call: the runtime tests wrap it to count cycles
from amm.runtime.context import context
from amm.runtime.instance_cache import instances_prefetch
from amm.runtime.job_requests import quote_key, request_cycle, request_cycles
from amm.runtime.lease import lease_ttl_ms
from amm.runtime.renewer import renewer
from amm.runtime.unique_jobs import MAX_RUNS, is_urgent, marker_kept, queue_key_in_state_redis, urgent_waiting

log = logging.getLogger(__name__)

def cycle_run(market_id: str, reason: str = "tick") -> None:
    """One quote cycle of the market (again while requotes were requested meanwhile)."""
    _market_cycles(quote_key(market_id), market_id, reason, ttl_ms=lease_ttl_ms())


def _market_cycles(key: str, market_id: str, reason: str, *, ttl_ms: int, queue: str | None = None) -> cycle.CycleJob:
    """The body of a market's unique job (unique_jobs.run_unique's), its marker's start and
    finish done by the cycle's own round trips (cycle.CycleJob): the cycle, again while
    requests came meanwhile (at most MAX_RUNS; then the scheduler's next tick serves what is
    left); the marker released at the end, or on an error. Given the queue's key, the last
    cycle's end peeks at its head (the job returned tells)."""
    job = cycle.CycleJob(key, ttl_ms, queue=queue)
    with marker_kept(key, ttl_ms=ttl_ms):
        for _ in range(MAX_RUNS):
            cycle.quote_cycle(market_id, reason=reason, job=job)
            if job.again is None:
                return job
            reason = job.again
        state.job_done(key)
        return job


def cycles_run_batch(market_ids: list[str], reason: str = "tick", *, give_way: bool = True,
                     stopping: Callable[[], bool] | None = None) -> None:
    """Quote cycles of several markets one after the other (the scheduler's periodic ticks,
    job_requests.request_cycles). In an RQ job (`give_way`), when a fill's (or an operator's)
    cycle waits at the head of the queue, the rest of the batch goes back to the queue and this
    worker takes that one: a market of the rest with a request of its own waiting (a fill came
    while the batch held it) goes to the front as a cycle of its own, the others to the back as
    a batch. On a tick lane (no `give_way`: the worker's RQ thread takes such jobs meanwhile),
    `stopping` ends the batch early, the rest's markers released for the next tick. One
    market's error does not starve the others; the first is raised at the end, so RQ records
    the job as failed."""
    ttl = lease_ttl_ms()
    keys = [quote_key(m) for m in market_ids]
    # Giving way: each cycle's end peeks at the queue's head (no round trip more).
    queue = queue_key_in_state_redis() if give_way else None
    job: cycle.CycleJob | None = None
    at = [0]
    state.job_renew_many(keys, ttl_ms=ttl)  # running now: a worker that dies frees them within the TTL
    instances_prefetch(context(), market_ids, now=state.now_ms())  # one SQL statement for the batch's rows
    handle = renewer.add(lambda: state.job_renew_many(keys[at[0] + 1:], ttl_ms=ttl))  # the markets still waiting
    first_error: Exception | None = None
    try:
        for i, market_id in enumerate(market_ids):
            at[0] = i
            if stopping is not None and stopping():
                state.jobs_done(keys[i:])
                break
            if give_way and i and (is_urgent(job.queue_head) if job is not None and job.peeked else urgent_waiting()):
                _give_way(market_ids[i:], keys[i:], reason=reason)
                break
            job = None
            try:
                job = _market_cycles(keys[i], market_id, reason, ttl_ms=ttl, queue=queue)
            except Exception as exc:  # noqa: BLE001 - logged, raised after the others ran
                log.exception("quote cycle of %s failed", market_id)
                first_error = first_error or exc
    finally:
        renewer.remove(handle)
    if first_error is not None:
        raise first_error


def _give_way(market_ids: list[str], keys: list[str], *, reason: str) -> None:
    """Hand the rest of a batch back to the queue: a market whose own request waits (its
    rerun marker) to the front with that request's reason, the others to the back."""
    waiting = state.job_reruns(keys)
    state.jobs_done(keys)
    for market_id, key in zip(market_ids, keys):
        if key in waiting:
            request_cycle(market_id, reason=waiting[key], at_front=True)
    request_cycles([m for m, key in zip(market_ids, keys) if key not in waiting], reason=reason)
