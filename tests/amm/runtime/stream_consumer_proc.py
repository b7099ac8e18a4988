"""A member of the AMM's consumer group in a process of its own, for the tests that kill one
mid-batch (test_event_feed_processes.py): it reads one batch, applies the first
`APPLY_FIRST` events of it through the runtime's path, prints "applied N", then waits to be
killed — before it acknowledges anything.

    python -m tests.amm.runtime.stream_consumer_proc   (DATABASE_URL, REDIS_URL, AMM_* set)
"""
from __future__ import annotations

import os
import sys
import time

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ammproject.settings")
    django.setup()
    from amm import state
    from amm.connector.events import Batch
    from amm.runtime.context import context
    from amm.runtime.event_feed import apply_batch

    ctx = context()
    consumer = ctx.events()
    consumer.open()
    print("joined", flush=True)
    batch = consumer.read(block_ms=10_000, count=int(os.environ.get("BATCH", "100")))
    first = int(os.environ.get("APPLY_FIRST", "0"))
    applied = apply_batch(ctx, Batch(events=batch.events[:first], rejected=[]), running=state.run_markets_get(),
                          now=state.now_ms())
    print(f"read {len(batch.events)} applied {applied.fills}", flush=True)
    time.sleep(120)  # killed here: read, partly applied, nothing acknowledged
    sys.exit(1)


if __name__ == "__main__":
    main()
