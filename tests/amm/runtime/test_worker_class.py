"""Worker class choice (issue 6): per-job cost of RQ's forking Worker vs SimpleWorker (no
fork), measured with no-op jobs on real Redis in burst mode. Quote cycles are short and on
the tick-to-quote path, so the fork per job matters; AmmWorker is a SimpleWorker.
`pytest -s` prints the figures (on this 2-core machine: see amm/runtime/worker.py)."""
from __future__ import annotations

import time

import pytest
from rq import Worker
from rq.registry import FailedJobRegistry

from amm.runtime.worker import AmmWorker

JOBS = 60


def _per_job_ms(worker_cls, queue) -> float:
    for _ in range(JOBS):
        queue.enqueue("amm.jobs.ping", result_ttl=0)
    worker = worker_cls([queue], connection=queue.connection)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    assert queue.count == 0 and FailedJobRegistry(queue=queue).count == 0
    return (time.perf_counter() - started) * 1000 / JOBS


def test_simple_worker_costs_less_per_job_than_forking(redis_conn):
    import django_rq
    from rq import Queue

    queue = Queue("amm-bench", connection=django_rq.get_connection("amm"))
    _per_job_ms(AmmWorker, queue)  # warm up
    simple = _per_job_ms(AmmWorker, queue)
    forking = _per_job_ms(Worker, queue)
    print(f"\nper no-op job: SimpleWorker {simple:.2f} ms, forking Worker {forking:.2f} ms ({JOBS} jobs)")
    assert simple < forking
