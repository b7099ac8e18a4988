"""The relay (docs/push.md): copies committed outbox rows to the event streams, in outbox-id
order, and marks them published; `manage.py exchange_relay` runs it.

Woken by the NOTIFY the outbox insert sends (delivered at commit), and every `poll_ms` as a
backstop. Per market, id order is commit order (a market's rows are written under its lock,
so a row is committed before the next one of that market gets its id), and a batch takes the
oldest unpublished rows, so each market's events reach the streams in commit order. Across
markets the order is only roughly by id: a row may commit after a larger id of another market.

At least once: a relay killed between publishing and marking publishes the batch again on
restart, and a Redis that restarted without its data (the publisher reports it, see
publisher.MARKER_KEY) gets every retained row again, oldest first, before any new one.
Consumers dedupe by event_id. Published rows are pruned after `retention_s`: that is how far
back a replay reaches.

One relay publishes at a time: it holds a session advisory lock; a second one waits as a
standby and takes over when the first one's connection ends."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass
from typing import Callable

import psycopg
import redis
from django.db import Error as DatabaseError
from django.db import connection

from exchange.events.outbox import NOTIFY_CHANNEL
from exchange.events.publisher import Event, Publisher

RELAY_LOCK_KEY = 72_010_002  # the session advisory lock of the active relay
PROGRESS_EVERY_S = 10.0
PRUNE_EVERY_S = 5.0

_COLUMNS = "id, stream, type, market_id, sequence_id, created_at, data"
_PENDING_SQL = f"SELECT {_COLUMNS} FROM exchange_outbox WHERE published_at IS NULL ORDER BY id LIMIT %s"
_RETAINED_SQL = f"SELECT {_COLUMNS} FROM exchange_outbox WHERE published_at IS NOT NULL AND id > %s ORDER BY id LIMIT %s"
_MARK_SQL = "UPDATE exchange_outbox SET published_at = now() WHERE id = ANY(%s::bigint[])"
_PRUNE_SQL = "DELETE FROM exchange_outbox WHERE published_at < now() - make_interval(secs => %s)"


def _rows(sql: str, params: list) -> list[Event]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # jsonb arrives as text on Django's connections (JSONField decodes it itself): kept as is
        return [Event(event_id=i, stream=s, type=t, market_id=m, sequence_id=q, created_at=c,
                      data=d if isinstance(d, str) else json.dumps(d))
                for i, s, t, m, q, c, d in cursor.fetchall()]


def _execute(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@dataclass
class Progress:
    """What the operator's progress line reports, since the last one."""

    published: int = 0
    replayed: int = 0
    pruned: int = 0
    max_lag_ms: float = 0.0  # commit -> XADD of the slowest event
    last_event_id: int = 0


class Relay:
    def __init__(self, publisher: Publisher, *, batch: int, poll_ms: int, retention_s: int,
                 log: Callable[[str], None], stop: threading.Event | None = None) -> None:
        self.publisher = publisher
        self.batch = batch
        self.poll_s = poll_ms / 1000
        self.retention_s = retention_s
        self.log = log
        self.stop = stop or threading.Event()
        self.progress = Progress()
        self.prune_every_s = min(PRUNE_EVERY_S, max(retention_s, 0.5))
        self._listener: psycopg.Connection | None = None

    # --- the loop -------------------------------------------------------------------
    def run(self) -> None:
        next_progress = next_prune = time.monotonic()
        failures = 0
        while not self.stop.is_set():
            try:
                if self._listener is None:
                    self._listen()
                    continue
                published = self.step()
                if time.monotonic() >= next_prune:
                    self.progress.pruned += self.prune()
                    next_prune = time.monotonic() + self.prune_every_s
                if time.monotonic() >= next_progress:
                    self._report()
                    next_progress = time.monotonic() + PROGRESS_EVERY_S
                if published < self.batch:  # caught up: sleep until a commit notifies, or the poll
                    self._wait()
                failures = 0
            except (redis.RedisError, DatabaseError, psycopg.Error) as exc:
                failures += 1
                delay = min(2.0, 0.05 * 2 ** min(failures, 6))
                self.log(f"publish failed ({type(exc).__name__}: {exc}); retrying in {delay * 1000:.0f} ms")
                connection.close_if_unusable_or_obsolete()
                if isinstance(exc, psycopg.Error):
                    self._close_listener()  # opened again (LISTEN, lock) by the next turn
                self.stop.wait(delay)
        if self._listener is not None:  # still the active relay
            self._drain()
        self._close_listener()
        self.log("stopped")

    def _drain(self, budget_s: float = 2.0) -> None:
        """On the way out, what committed up to now (the platform stopped first, say), within a budget."""
        deadline = time.monotonic() + budget_s
        try:
            while self.step() == self.batch and time.monotonic() < deadline:
                pass
            self._report()
        except (redis.RedisError, DatabaseError, psycopg.Error) as exc:
            self.log(f"final publish failed ({type(exc).__name__}: {exc}); the next relay publishes the rest")

    def step(self) -> int:
        """Publish the oldest unpublished rows (one batch) and mark them; returns how many."""
        events = _rows(_PENDING_SQL, [self.batch])
        if not events:
            return 0
        while not self.publisher.publish(events):  # the streams lost what they held: replay it first
            self.replay()
        _execute(_MARK_SQL, [[e.event_id for e in events]])
        now = dt.datetime.now(dt.timezone.utc)
        self.progress.published += len(events)
        self.progress.last_event_id = max(self.progress.last_event_id, events[-1].event_id)
        self.progress.max_lag_ms = max(self.progress.max_lag_ms,
                                       max((now - e.created_at).total_seconds() * 1000 for e in events))
        return len(events)

    def replay(self) -> int:
        """Publish every retained published row again, oldest first (the first batch
        unconditionally, which writes the marker again; the rest only while the marker
        holds, else from the start again)."""
        self.log("streams lost their entries (marker missing): replaying the retained outbox")
        after, replayed, first = 0, 0, True
        while True:
            events = _rows(_RETAINED_SQL, [after, self.batch])
            if not self.publisher.publish(events, continuing=not first):
                self.log("streams lost their entries again during the replay: starting over")
                after, replayed, first = 0, 0, True
                continue
            first = False
            if not events:
                break
            after = events[-1].event_id
            replayed += len(events)
        self.progress.replayed += replayed
        self.log(f"replayed {replayed} retained events (up to event_id {after})")
        return replayed

    def prune(self) -> int:
        return _execute(_PRUNE_SQL, [self.retention_s])

    # --- waking ---------------------------------------------------------------------
    def _listen(self) -> None:
        """A connection of its own (the ORM's may be closed and reopened): LISTEN, and the
        advisory lock that makes this relay the active one (waiting as a standby meanwhile)."""
        self._close_listener()
        params = connection.settings_dict
        listener = psycopg.connect(
            dbname=params["NAME"], user=params["USER"] or None, password=params["PASSWORD"] or None,
            host=params["HOST"] or None, port=params["PORT"] or None, autocommit=True)
        waiting = False
        while not listener.execute("SELECT pg_try_advisory_lock(%s)", [RELAY_LOCK_KEY]).fetchone()[0]:
            if not waiting:
                self.log("another relay is active: waiting as a standby")
                waiting = True
            if self.stop.wait(1.0):
                listener.close()
                return
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        self._listener = listener
        self.log("active: listening for commits" + (" (the other relay is gone)" if waiting else ""))

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None

    def _wait(self) -> None:
        for _ in self._listener.notifies(timeout=self.poll_s, stop_after=1):
            pass
        # every commit since the last step is read by the next step: drain the rest
        for _ in self._listener.notifies(timeout=0):
            pass

    def _report(self) -> None:
        p = self.progress
        with connection.cursor() as cursor:
            # both on indexes: the unpublished rows' partial one, and the primary key
            cursor.execute("SELECT (SELECT count(*) FROM exchange_outbox WHERE published_at IS NULL), "
                           "(SELECT min(id) FROM exchange_outbox)")
            pending, oldest = cursor.fetchone()
        self.log(f"published {p.published} (replayed {p.replayed}, pruned {p.pruned}); last event_id "
                 f"{p.last_event_id}; max commit->XADD {p.max_lag_ms:.1f} ms; pending {pending}; "
                 f"oldest retained event_id {oldest}")
        self.progress = Progress(last_event_id=p.last_event_id)
