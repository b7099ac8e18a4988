"""Job markers: at most one queued-or-running job per key (`amm:job:{key}`, holding the job
id, with a TTL), and a request that comes meanwhile is kept as one more run
(`amm:rerun:{key}`, holding its reason) instead of a second job in the queue."""
from __future__ import annotations

from typing import Iterable

import redis

import amm.state.keys as K
from amm.state.connection import conn_or_default
from amm.state.lua import script


def job_request(name: str, value: str, *, reason: str, ttl_ms: int, conn: redis.Redis | None = None) -> bool:
    """True: the marker is ours, enqueue the job. False: one is queued or running; it will
    run once more (`job_finish`)."""
    return bool(script(conn_or_default(conn), "job_request")(keys=[K.job_key(name), K.rerun_key(name)],
                                                             args=[value, int(ttl_ms), reason or "rerun"]))


def job_request_many(names: list[str], prefix: str, *, batch_size: int, reason: str, ttl_ms: int,
                     rerun: bool = True, conn: redis.Redis | None = None) -> list[list[str]]:
    """`job_request` for many keys in one round trip (`rerun=False`: a key whose job is
    queued or running is left alone); the names whose marker was taken, in batches of
    `batch_size`, the n-th batch's markers holding the job id `{prefix}-b{n}`."""
    if not names:
        return []
    keys = [k for name in names for k in (K.job_key(name), K.rerun_key(name))]
    taken = script(conn_or_default(conn), "job_request_many")(
        keys=keys, args=[prefix, int(ttl_ms), reason or "rerun", int(batch_size), "1" if rerun else "0"])
    names_taken = [names[int(i) - 1] for i in taken]
    return [names_taken[i:i + batch_size] for i in range(0, len(names_taken), batch_size)]


def job_started(name: str, *, ttl_ms: int | None = None, conn: redis.Redis | None = None) -> str | None:
    """A job run starts: requests made while it waited are served by this run; returns the
    reason of the last one (a fill that came while a periodic cycle waited makes it a fill's).
    With `ttl_ms`, the marker's life becomes the running one's (renewed while it runs)."""
    pipe = conn_or_default(conn).pipeline(transaction=True)
    pipe.getdel(K.rerun_key(name))
    if ttl_ms is not None:
        pipe.pexpire(K.job_key(name), int(ttl_ms))
    return pipe.execute()[0]


def job_renew(name: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> None:
    conn_or_default(conn).pexpire(K.job_key(name), int(ttl_ms))


def job_renew_many(names: Iterable[str], *, ttl_ms: int, conn: redis.Redis | None = None) -> None:
    pipe = conn_or_default(conn).pipeline(transaction=False)
    for name in names:
        pipe.pexpire(K.job_key(name), int(ttl_ms))
    pipe.execute()


def job_finish(name: str, *, ttl_ms: int, conn: redis.Redis | None = None) -> str | None:
    """End of a job run: the reason of a rerun requested meanwhile (run again, the marker is
    kept), or None (the marker is released)."""
    return script(conn_or_default(conn), "job_finish")(keys=[K.job_key(name), K.rerun_key(name)], args=[int(ttl_ms)])


def job_reruns(names: list[str], *, conn: redis.Redis | None = None) -> dict[str, str]:
    """The keys among `names` with a request waiting for their next run (`amm:rerun:{key}`:
    a fill, a status change, an operator), and its reason; one round trip."""
    if not names:
        return {}
    values = conn_or_default(conn).mget([K.rerun_key(name) for name in names])
    return {name: value for name, value in zip(names, values) if value}


def job_marker(name: str, *, conn: redis.Redis | None = None) -> str | None:
    return conn_or_default(conn).get(K.job_key(name))


def job_done(name: str, *, conn: redis.Redis | None = None) -> None:
    conn_or_default(conn).delete(K.job_key(name))


def jobs_done(names: list[str], *, conn: redis.Redis | None = None) -> None:
    """`job_done` of many markers, in one DEL (the rest of a batch that ends early)."""
    if names:
        conn_or_default(conn).delete(*(K.job_key(name) for name in names))
