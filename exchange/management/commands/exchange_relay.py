"""Run the outbox relay (docs/push.md): committed outbox rows -> the Redis event streams."""
from __future__ import annotations

import datetime as dt
import signal
import sys
import threading

from django.core.management.base import BaseCommand

from ammproject.redis import get_redis
from exchange.conf import exchange_settings
from exchange.events.publisher import RedisStreamPublisher
from exchange.events.relay import Relay


def _log(line: str) -> None:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    print(f"{stamp} exchange_relay: {line}", file=sys.stderr, flush=True)


class Command(BaseCommand):
    help = "Publish committed outbox rows to the Redis event streams (trade/order/market/book_events), in a loop."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=exchange_settings.EXCHANGE_RELAY_BATCH,
                            help="rows per batch")
        parser.add_argument("--poll-ms", type=int, default=exchange_settings.EXCHANGE_RELAY_POLL_MS,
                            help="poll when no NOTIFY arrives")

    def handle(self, *args, batch, poll_ms, **options):
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        maxlen, retention_s = exchange_settings.EXCHANGE_EVENT_STREAM_MAXLEN, exchange_settings.EXCHANGE_OUTBOX_RETENTION_S
        publisher = RedisStreamPublisher(get_redis(), maxlen=maxlen)
        _log(f"publishing the outbox (batch {batch}, poll {poll_ms} ms, MAXLEN ~{maxlen}, "
             f"retention {retention_s} s); SIGTERM stops")
        Relay(publisher, batch=batch, poll_ms=poll_ms, retention_s=retention_s, log=_log, stop=stop).run()
