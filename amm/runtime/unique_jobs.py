"""Enqueueing on RQ (django_rq queue "amm") with at most one queued-or-running job per key.

Each job has a deterministic key (`quote:{market}`, `feed`, `reconcile:{market}`, ...) and a
Redis marker `amm:job:{key}` set when it is enqueued (living as long as RQ keeps the job
queued), shortened to the running TTL when it starts (renewed while it runs) and deleted
when it ends, so a market never has two queued cycles; a
request that finds the marker sets `amm:rerun:{key}` instead, and the job runs once more
before it ends (a fill that lands during a cycle gets its own cycle). A fill's request
moves an already-queued cycle to the front of the queue. A marker whose worker died
expires after the running TTL and the scheduler enqueues the job again.

The RQ job id is the key plus a short random suffix (`amm-quote-MKT-1-3f2a9c1e`; RQ allows
letters, digits, `_` and `-`): RQ deletes a finished job's hash (result_ttl=0) *after* the
function returns, so re-using one id would let that delete hit the next run's job, queued
a moment after the marker was released. The marker, not the id, is what deduplicates.
"""
from __future__ import annotations

import logging
import re
import secrets
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Callable

from django.conf import settings
from rq import Worker

from amm import state
from amm.runtime.renewer import renewer

log = logging.getLogger(__name__)

QUEUE_NAME = "amm"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

# KEYS: queue list ; ARGV: job id. Move a job that is still waiting to the front.
_PROMOTE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
  redis.call('LPUSH', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


def job_id(key: str) -> str:
    """RQ job id of a job key ("quote:MKT-1" -> "amm-quote-MKT-1")."""
    return "amm-" + _UNSAFE.sub("_", key.replace(":", "-"))


@lru_cache(maxsize=4)
def _queue(url: str):
    import django_rq  # app loading: django_rq reads Django's settings when imported; the runtime must import without them (sim, scripts)

    return django_rq.get_queue(QUEUE_NAME)


def get_queue():
    """The "amm" queue (one connection pool per process and Redis URL)."""
    return _queue(settings.RQ_QUEUES[QUEUE_NAME]["URL"])


def enqueue_unique(
    key: str,
    func: str,
    *args: Any,
    marker_ttl_ms: int,
    at_front: bool = False,
    reason: str = "",
    timeout_s: int = 120,
    queued_ttl_s: int = 60,
) -> bool:
    """Enqueue `func(*args)` (`func` a job's dotted path) as job `key` unless one is queued
    or running; then ask it to run again (and, `at_front`, move it forward if it still
    waits). True when enqueued."""
    jid = f"{job_id(key)}-{secrets.token_hex(4)}"
    if not state.job_request(key, jid, reason=reason, ttl_ms=queued_marker_ttl_ms(marker_ttl_ms, queued_ttl_s)):
        if at_front:
            queued = state.job_marker(key)
            if queued:
                promote(queued)
        return False
    try:
        get_queue().enqueue_call(
            func, args=args, job_id=jid, at_front=at_front, result_ttl=0, failure_ttl=300,
            ttl=queued_ttl_s, timeout=timeout_s, description=f"{key} ({reason})" if reason else key,
        )
    except Exception:
        state.job_done(key)
        raise
    return True


def enqueue_unique_many(
    keys: list[str],
    func: str,
    make_args: Callable[[list[str]], tuple],
    *,
    batch_size: int,
    marker_ttl_ms: int,
    reason: str = "",
    rerun: bool = True,
    timeout_s: int = 120,
    queued_ttl_s: int = 60,
) -> int:
    """Jobs `func(*make_args(batch))` for those of `keys` that have no job queued or running
    (the others run once more, unless not `rerun`), `batch_size` keys to a job; one round
    trip claims every marker. Returns how many keys were enqueued."""
    if not keys:
        return 0
    prefix = f"{job_id('batch:' + keys[0])}-{secrets.token_hex(4)}"
    batches = state.job_request_many(keys, prefix, batch_size=batch_size, reason=reason,
                                     ttl_ms=queued_marker_ttl_ms(marker_ttl_ms, queued_ttl_s), rerun=rerun)
    enqueued = 0
    for n, batch in enumerate(batches):
        try:
            get_queue().enqueue_call(
                func, args=make_args(batch), job_id=f"{prefix}-b{n}", result_ttl=0, failure_ttl=300,
                ttl=queued_ttl_s, timeout=timeout_s, description=f"{len(batch)} x {keys[0].split(':')[0]} ({reason})",
            )
        except Exception:
            state.jobs_done([k for rest in batches[n:] for k in rest])
            raise
        enqueued += len(batch)
    return enqueued


def queued_marker_ttl_ms(marker_ttl_ms: int, queued_ttl_s: int) -> int:
    """While queued, a marker lives as long as RQ keeps the job queued: a backlog longer than
    the running TTL must not let a second copy of the job in (under load, copies would pile
    up). The job sets the short running TTL when it starts (run_unique)."""
    return max(int(marker_ttl_ms), int(queued_ttl_s) * 1000)


def promote(jid: str) -> bool:
    queue = get_queue()
    return bool(queue.connection.eval(_PROMOTE, 1, queue.key, jid))


URGENT_PREFIXES = (job_id("quote:"), job_id("feed"))  # a single market's cycle (fill, status, operator), the feed


def urgent_waiting() -> bool:
    """Is the job at the head of the queue a single market's cycle or the feed? (They are
    enqueued at the front; a batch of periodic cycles gives way to them.)"""
    queue = get_queue()
    return is_urgent(queue.connection.lindex(queue.key, 0))


def is_urgent(head: str | bytes | None) -> bool:
    """Is `head` (the job id at the head of the queue) a single market's cycle or the feed?"""
    if isinstance(head, bytes):
        head = head.decode()
    return bool(head) and head.startswith(URGENT_PREFIXES)


def queue_key_in_state_redis() -> str | None:
    """The queue's Redis key when the queue lives in the AMM's own Redis (the same server and
    database, as ammproject's settings have it): a script of amm.state can then peek at its
    head on the way (state.cycle_close). None when it lives elsewhere."""
    queue = get_queue()

    def where(conn) -> tuple:
        kwargs = conn.connection_pool.connection_kwargs
        return kwargs.get("host"), kwargs.get("port"), kwargs.get("path"), int(kwargs.get("db") or 0)

    return queue.key if where(queue.connection) == where(state.get_redis()) else None


def queued_count() -> int:
    return get_queue().count


def workers_serving() -> int:
    """RQ workers registered on the queue (one round trip)."""
    return Worker.count(queue=get_queue())


@contextmanager
def marker_kept(key: str, *, ttl_ms: int):
    """While a job's body runs: its marker renewed (a worker that dies frees it within
    `ttl_ms`); on an error, released (the scheduler's next tick serves what is left)."""
    handle = renewer.add(lambda: state.job_renew(key, ttl_ms=ttl_ms))
    try:
        yield
    except BaseException:
        try:
            state.job_done(key)
        except Exception:  # noqa: BLE001 - Redis down: the marker expires by itself
            pass
        raise
    finally:
        renewer.remove(handle)


MAX_RUNS = 10  # a unique job runs its body at most this often in a row; the scheduler's next tick serves the rest


def run_unique(key: str, fn: Callable[[str | None], Any], *, marker_ttl_ms: int, max_runs: int = MAX_RUNS,
               rerun: bool = True) -> Any:
    """The body of a unique job: run `fn(reason)` (the reason of a request that came while
    it waited, else None), again while reruns were requested meanwhile (at most `max_runs`;
    never when not `rerun`), keeping the marker alive; release it at the end."""
    reason = state.job_started(key, ttl_ms=marker_ttl_ms)
    with marker_kept(key, ttl_ms=marker_ttl_ms):
        result = None
        if not rerun:
            result = fn(None)
            state.job_done(key)
            return result
        for _ in range(max_runs):
            result = fn(reason)
            reason = state.job_finish(key, ttl_ms=marker_ttl_ms)
            if reason is None:
                return result
        state.job_done(key)  # the scheduler's next tick serves what is left
        return result
