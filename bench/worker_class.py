"""Per-job cost of RQ's forking Worker against SimpleWorker (the AMM's AmmWorker), with no-op
jobs on real Redis in burst mode (issue 6: choose worker classes for latency).

    .venv/bin/python bench/worker_class.py [--jobs 60]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _setup import machine_speed  # noqa: E402


def per_job_ms(worker_cls, queue, jobs: int) -> float:
    from rq.registry import FailedJobRegistry

    for _ in range(jobs):
        queue.enqueue("amm.jobs.ping", result_ttl=0)
    worker = worker_cls([queue], connection=queue.connection)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    assert queue.count == 0 and FailedJobRegistry(queue=queue).count == 0
    return (time.perf_counter() - started) * 1000 / jobs


def main() -> None:
    print(machine_speed(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=60)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ammproject.settings")
    import django

    django.setup()
    import django_rq
    from rq import Queue, Worker

    from amm.runtime.worker import AmmWorker

    queue = Queue("amm-bench-worker-class", connection=django_rq.get_connection("amm"))
    per_job_ms(AmmWorker, queue, args.jobs)  # warm up
    simple = per_job_ms(AmmWorker, queue, args.jobs)
    forking = per_job_ms(Worker, queue, args.jobs)
    print(f"per no-op job over {args.jobs} jobs: SimpleWorker (AmmWorker) {simple:.2f} ms, "
          f"forking Worker {forking:.2f} ms; ratio forking/simple {forking / simple:.2f}")


if __name__ == "__main__":
    main()
