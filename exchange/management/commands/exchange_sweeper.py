"""Run the dead man's switch sweeper standalone (SPEC §3.6 cancel-all-after).

Serving processes sweep too; this loop is for deployments that want a dedicated sweeper
(any number of sweepers may run at once: switches are claimed with SKIP LOCKED)."""
from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from exchange.conf import exchange_settings
from exchange.services.deadman import deadman_sweep, deadman_sweep_forever


class Command(BaseCommand):
    help = "Cancel the open orders of every user whose cancel-all-after deadline has passed, in a loop."

    def add_arguments(self, parser):
        parser.add_argument("--tick-ms", type=int, default=exchange_settings.EXCHANGE_DEADMAN_TICK_MS,
                            help="milliseconds between sweeps")
        parser.add_argument("--once", action="store_true", help="sweep once, print the count and exit")

    def handle(self, *args, tick_ms, once, **options):
        if once:
            self.stdout.write(f"cancelled {deadman_sweep()} orders")
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        self.stderr.write(f"exchange_sweeper: sweeping every {tick_ms} ms (Ctrl-C to stop)")
        deadman_sweep_forever(tick_ms=tick_ms, stop=stop)
