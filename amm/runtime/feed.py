"""The feed job. With AMM_PUSH (the default) it reads the platform's event stream while that
is reachable (docs/push.md; amm/runtime/event_feed.py): fills from `trade_events` (the
primary entry of inventory changes), market changes from `market_events` instead of the
status polling, the books' sequence ids from `book_events`; a REST catch-up of the trade
cursor every AMM_EVENTS_CATCHUP_MS, and one (with a status watch) whenever the stream is
taken up again, covers what the stream may have missed; the stream is dropped for
AMM_EVENTS_RETRY_MS (alert PUSH_FALLBACK) when it cannot be read, or when the catch-up finds
a fill older than AMM_EVENTS_LAG_MS that the stream did not bring. Meanwhile, and with
AMM_PUSH off, the REST feed below runs.

The REST feed: long-polls the platform's trade feed (`GET /trades?since=&wait_ms=`, up to
AMM_FILL_WAIT_MS; a platform that answers at once is polled every AMM_FILL_POLL_INTERVAL_MS)
for AMM_FEED_WINDOW_MS, applying AMM fills exactly once (amm.bookkeeping.FillFeed) and
requesting a cycle of each market that got one at the front of the queue (reason "fill");
every AMM_STATUS_POLL_MS it reads every market's status (one GET /markets) into
`amm:market:{m}` and requests a cycle of each market whose status changed (reason
"status"). One feed job runs at a time (lease "feed"); it reads AMM_FEED_WINDOWS_PER_JOB
windows back to back while other workers serve the queue (feed_windows), the scheduler enqueues
the next as soon as it ends, and a dead one's lease expires within a few seconds. Each window
records when the platform last answered a poll (`feed_ms` of the run heartbeat): the
monitoring API's health check calls a feed whose heartbeat is old stopped.

How a fill becomes a requote: the platform commits the trade -> the waiting poll answers
with it -> the feed applies it to Redis and pushes it to `amm:fills:{m}` -> the market's
cycle job is enqueued at the front (or, if one is queued/running, asked to run once more)
-> a worker runs the cycle: it reads the fill with its one Redis read, decides, replaces.
"""
from __future__ import annotations

import logging
import time

from amm import state
from amm.alerts import alert_raise_unless_open
from amm.bookkeeping.snapshot import market_meta
from amm.conf import amm_settings
from amm.connector import ConnectorError
from amm.connector.events import EventConsumer, EventStreamAbsent, EventStreamError
from amm.models import AlertSeverity, AlertType
from amm.runtime.context import RuntimeContext, context
from amm.runtime.event_feed import apply_batch
from amm.runtime.job_requests import request_cycle
from amm.runtime.lease import Lease, lease_ttl_ms
from amm.runtime.renewer import renewer
from amm.runtime.unique_jobs import workers_serving
from amm.runtime.worker import stop_requested

log = logging.getLogger(__name__)


class _Heartbeat:
    """When the platform (stream or REST) last answered: the feed's heartbeat (`feed_ms`, read by
    the health check), written at most once a second during a window and at its end."""

    def __init__(self) -> None:
        self.last_ms = 0
        self.written_ms = 0

    def answered(self, now_ms: int) -> int:
        self.last_ms = now_ms
        if now_ms - self.written_ms >= 1000:
            self.write()
        return now_ms

    def write(self) -> None:
        if self.last_ms and self.last_ms != self.written_ms:
            state.run_update(feed_ms=self.last_ms)
            self.written_ms = self.last_ms


def status_watch(ctx: RuntimeContext) -> list[str]:
    """Refresh the status of the markets the scheduler drives; request a cycle of each one
    whose status changed. Returns those markets."""
    markets = state.run_markets_get()
    if not markets:
        return []
    now = state.now_ms()
    known = state.market_status_many(markets)
    metas, changed = {}, []
    for market in ctx.connector.markets_list():
        if market.id not in markets:
            continue
        metas[market.id] = {**market_meta(market), "updated_at_ms": now}
        if known.get(market.id) not in (None, market.status):
            changed.append(market.id)
    state.market_status_write_many(metas)
    for market_id in changed:
        log.warning("market %s is now %s", market_id, metas[market_id]["status"])
        request_cycle(market_id, reason="status", at_front=True)
    return changed


def feed_windows(*, windows: int | None = None) -> dict[str, int]:
    """The feed job's body: windows back to back (AMM_FEED_WINDOWS_PER_JOB) while two or more
    workers serve the queue, so that the next job's start, a scheduler tick and a batch after
    this one ends, leaves fills unread once per job rather than once per window. One window
    when this worker is the queue's only one (the periodic cycles need it), when another feed
    holds the lease, or when the worker is asked to stop. Returns the last window's counters."""
    windows = amm_settings.AMM_FEED_WINDOWS_PER_JOB if windows is None else windows
    counters = feed_loop()
    for _ in range(max(1, int(windows)) - 1):
        if counters.get("busy") or stop_requested() or workers_serving() < 2:
            break
        counters = feed_loop()
    return counters


def feed_loop(*, window_ms: int | None = None, ctx: RuntimeContext | None = None) -> dict[str, int]:
    """One feed window (module docstring). Returns counters."""
    ctx = ctx or context()
    window_ms = amm_settings.AMM_FEED_WINDOW_MS if window_ms is None else window_ms
    lease = Lease("feed", ttl_ms=lease_ttl_ms())
    if not lease.acquire():
        return {"busy": 1}
    handle = renewer.add(lease.renew)
    counters = {"polls": 0, "fills": 0, "status_changes": 0, "errors": 0, "events": 0, "stream_fills": 0,
                "catchup_fills": 0, "fallbacks": 0}
    answered = _Heartbeat()
    try:
        end = time.monotonic() + window_ms / 1000
        while lease.held and time.monotonic() < end and not stop_requested():
            consumer = ctx.events()
            if consumer is not None and time.monotonic() >= ctx.events_retry_at:
                try:
                    _stream_until(ctx, consumer, end=end, lease=lease, counters=counters, answered=answered)
                except EventStreamError as exc:
                    _stream_dropped(ctx, exc, counters)
                continue
            until = end if consumer is None else min(end, ctx.events_retry_at)
            _poll_until(ctx, until=until, lease=lease, counters=counters, answered=answered)
    finally:
        renewer.remove(handle)
        lease.release()
        answered.write()
    return counters


def _stream_until(ctx: RuntimeContext, consumer: EventConsumer, *, end: float, lease: Lease,
                  counters: dict[str, int], answered: "_Heartbeat") -> None:
    """Read and apply the event stream until `end` (EventStreamError: it failed)."""
    if not ctx.events_current:
        # Join the group first, then catch up over REST: whatever commits in between comes
        # both ways and applies once.
        consumer.open()
        try:
            counters["status_changes"] += len(status_watch(ctx))
        except ConnectorError as exc:
            counters["errors"] += 1
            log.warning("market status watch: %s", exc)
        ctx.events_catchup_at = 0.0
        ctx.events_current = True
        log.info("event stream read (group %s)", amm_settings.AMM_EVENTS_GROUP)
    block_ms = amm_settings.AMM_EVENTS_BLOCK_MS
    vouch_s = amm_settings.AMM_STATUS_POLL_MS / 1000
    next_vouch = 0.0
    running: set[str] = set()
    while lease.held and not stop_requested():
        now = time.monotonic()
        if now >= ctx.events_catchup_at:
            ctx.events_catchup_at = now + amm_settings.AMM_EVENTS_CATCHUP_MS / 1000
            _catch_up(ctx, counters)
        if now >= next_vouch:  # no market event meanwhile: the statuses kept are current
            next_vouch = now + vouch_s
            running = state.run_markets_get()
            state.market_push_refresh(running, {}, now=state.now_ms())
        now = time.monotonic()
        if now >= end:
            return
        wait_ms = int(min(block_ms, (end - now) * 1000, (next_vouch - now) * 1000))
        batch = consumer.read(block_ms=max(1, wait_ms), count=amm_settings.AMM_EVENTS_BATCH)
        now_ms = answered.answered(state.now_ms())
        if batch.events or batch.rejected:
            applied = apply_batch(ctx, batch, running=running, now=now_ms)
            consumer.ack([(e.stream, e.entry_id) for e in batch.events] + list(batch.rejected))
            counters["events"] += len(batch.events)
            counters["stream_fills"] += applied.fills
            counters["fills"] += applied.fills
            counters["status_changes"] += applied.status_changes


def _catch_up(ctx: RuntimeContext, counters: dict[str, int]) -> None:
    """One REST page run from the trade cursor (no wait). A fill it applies that is older than
    AMM_EVENTS_LAG_MS is one the stream should have brought long ago: the stream is lagging
    (its relay stopped?), so it is dropped for REST polling (EventStreamError)."""
    try:
        result = ctx.feed.poll()
    except ConnectorError as exc:
        counters["errors"] += 1
        log.warning("fill feed catch-up: %s", exc)
        return
    counters["polls"] += 1
    if not result.applied:
        return
    counters["catchup_fills"] += result.applied
    counters["fills"] += result.applied
    now, lag_ms = state.now_ms(), amm_settings.AMM_EVENTS_LAG_MS
    late = [t.id for t in ctx.feed.woken if t.executed_ms is not None and now - t.executed_ms > lag_ms]
    if late:
        raise EventStreamError(f"the REST catch-up found fills the stream did not bring within {lag_ms} ms: {late[:5]}")


def _stream_dropped(ctx: RuntimeContext, exc: EventStreamError, counters: dict[str, int]) -> None:
    was_current, ctx.events_current = ctx.events_current, False
    ctx.events_retry_at = time.monotonic() + amm_settings.AMM_EVENTS_RETRY_MS / 1000
    if isinstance(exc, EventStreamAbsent) and not was_current:
        log.debug("%s: REST polling", exc)  # a platform that does not push: no failure
        return
    counters["errors"] += 1
    counters["fallbacks"] += 1
    log.warning("event stream dropped, REST polling for %d ms: %s", amm_settings.AMM_EVENTS_RETRY_MS, exc)
    try:
        alert_raise_unless_open(type=AlertType.PUSH_FALLBACK, severity=AlertSeverity.WARNING,
                                payload={"feed": "events", "error": str(exc)[:500]})
    except Exception:  # noqa: BLE001 - the database down too: the log line stands
        log.exception("could not record the PUSH_FALLBACK alert")


def _poll_until(ctx: RuntimeContext, *, until: float, lease: Lease, counters: dict[str, int],
                answered: "_Heartbeat") -> None:
    """The REST feed until `until`: a status watch every AMM_STATUS_POLL_MS, long polls of the
    trade feed between them."""
    poll_s = amm_settings.AMM_FILL_POLL_INTERVAL_MS / 1000
    wait_s = amm_settings.AMM_FILL_WAIT_MS / 1000
    status_s = amm_settings.AMM_STATUS_POLL_MS / 1000
    next_status = time.monotonic()
    while lease.held and not stop_requested():
        now = time.monotonic()
        if now >= next_status:
            next_status = now + status_s
            try:
                counters["status_changes"] += len(status_watch(ctx))
            except ConnectorError as exc:
                counters["errors"] += 1
                log.warning("market status watch: %s", exc)
        # Long poll until the next status watch (or the end); the platform answers at once
        # when a trade is there or commits meanwhile.
        wait = max(0.0, min(wait_s, next_status - time.monotonic(), until - time.monotonic()))
        asked = time.monotonic()
        try:
            result = ctx.feed.poll(wait_ms=int(wait * 1000))
            counters["fills"] += result.applied
            answered.answered(state.now_ms())
        except ConnectorError as exc:
            counters["errors"] += 1
            log.warning("fill feed: %s", exc)
            result = None
        counters["polls"] += 1
        if time.monotonic() >= until:
            return
        if result is None or (not result.fetched and time.monotonic() - asked < wait / 2):
            # An error, or an empty answer long before its wait: the platform does not
            # hold answers (plain polling) — pace the next poll.
            time.sleep(max(0.0, min(poll_s, next_status - time.monotonic(), until - time.monotonic()))
                       if poll_s > 0 else 0)
