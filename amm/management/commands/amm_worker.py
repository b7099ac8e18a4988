"""`python manage.py amm_worker [--burst]`: one more RQ worker on the "amm" queue, for this
machine or another sharing the Redis and the database (amm.runtime.worker.AmmWorker:
SimpleWorker, no fork per job), with its tick lane for the periodic cycles (AMM_TICK_LANE,
amm/runtime/tick_lane.py) and its fast lane for requotes. Equivalent: `rqworker amm --worker-class amm.runtime.worker.AmmWorker`."""
from __future__ import annotations

import logging

from django.core.management.base import BaseCommand, CommandError

from amm import jobs
from amm.conf import amm_settings
from amm.runtime import fast_lane, tick_lane
from amm.runtime.job_requests import JOBS
from amm.runtime.worker import make_worker, watch_parent


class Command(BaseCommand):
    help = "Run one AMM RQ worker (queue 'amm')."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="work until the queue is empty, then exit")
        parser.add_argument("--name", default=None)
        parser.add_argument("--parent-pid", type=int, default=None,
                            help="stop when this process (run_amm) is gone")
        parser.add_argument("--logging-level", default="WARNING", help="RQ's own log level")

    def handle(self, *args, **options):
        # The runtime requests jobs by name: one that names no job here fails now, not at its first run.
        missing = [path for path in JOBS if not callable(getattr(jobs, path.rpartition(".")[2], None))]
        if missing:
            raise CommandError(f"jobs requested but not in amm.jobs: {', '.join(missing)}")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per HTTP call drowns the status
        if options["parent_pid"]:
            watch_parent(options["parent_pid"])
        worker = make_worker(name=options["name"])
        fast_lane.install()  # the feed job, when it runs here, requotes fills on this process's lane
        if not options["burst"]:
            tick_lane.install()  # the scheduler's periodic batches, on a thread of this process
        try:
            worker.work(burst=options["burst"], logging_level=options["logging_level"])
        finally:
            tick_lane.stop(timeout_s=amm_settings.AMM_SHUTDOWN_TIMEOUT_S / 2)
            fast_lane.stop(timeout_s=amm_settings.AMM_SHUTDOWN_TIMEOUT_S / 2)
