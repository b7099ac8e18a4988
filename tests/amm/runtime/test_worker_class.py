"""Worker class choice (issue 6): the AMM's workers run jobs in their own process, without a
fork per job, so a quote cycle keeps the worker's warm HTTP, Redis and database connections.
The per-job cost of either class is measured by bench/worker_class.py, not asserted here."""
from __future__ import annotations

import os

from rq import Queue, SimpleWorker
from rq.job import Job

from amm.runtime.worker import AmmWorker


def test_amm_worker_runs_jobs_in_its_own_process(redis_conn):
    import django_rq

    assert issubclass(AmmWorker, SimpleWorker)
    queue = Queue("amm-worker-class", connection=django_rq.get_connection("amm"))
    job = queue.enqueue(os.getpid, result_ttl=60)
    AmmWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")
    done = Job.fetch(job.id, connection=queue.connection)
    assert done.get_status() == "finished"
    assert done.return_value() == os.getpid()  # a forking worker would answer its child's pid
