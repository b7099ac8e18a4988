"""The per-user dead man's switch of `POST /api/v1/orders/cancel-all-after` (SPEC §3.6).

A call arms (or re-arms) the user's switch with `deadline = now + timeout_ms`; 0 disarms it.
When a deadline passes without a new call, every open order of that user is cancelled.

It fires without any further request from the user: `deadman_sweep` is run
  - by a daemon thread in each serving process (`deadman_sweeper_ensure`: started when a
    switch is armed in that process, or for good by gunicorn's `post_worker_init`),
  - by `manage.py exchange_sweeper` (a standalone loop),
  - for the caller itself, before each of its write requests (`deadman_fire_if_expired`; the
    API asks whether the switch is past its deadline in its authentication's statement,
    `deadman_user_for_api_key`, and fires it only then).
Expired switches are claimed with `SELECT ... FOR UPDATE SKIP LOCKED` and a lease, so any
number of sweepers in any number of processes never fire one switch twice at once, and a
sweeper that dies mid-way is retried by another once the lease runs out.

A firing cancels market by market (one engine transaction each, the engine's lock order);
the claim itself is a separate, short transaction so no transaction holds two markets.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from exchange.conf import exchange_settings
from exchange.exceptions import InvalidInput
from exchange.models import CancelAllAfter, User
from exchange.services.accounts import api_key_hash, user_for_key_sql
from exchange.services.orders import user_cancel_everywhere
from exchange.sql import select_together

logger = logging.getLogger(__name__)

MAX_TIMEOUT_MS = 3_600_000  # one hour
LEASE = dt.timedelta(seconds=30)  # a claimed switch is retried after this if its sweeper died


def deadman_arm(*, user_id: str, timeout_ms: int, now: dt.datetime | None = None) -> CancelAllAfter | None:
    """Arm or re-arm the caller's switch; 0 disarms it (returns None)."""
    if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or not 0 <= timeout_ms <= MAX_TIMEOUT_MS:
        raise InvalidInput(f"timeout_ms must be an integer from 0 to {MAX_TIMEOUT_MS}", field="timeout_ms")
    if timeout_ms == 0:
        CancelAllAfter.objects.filter(user_id=user_id).delete()
        return None
    now = now or timezone.now()
    deadline = now + dt.timedelta(milliseconds=timeout_ms)
    switch = CancelAllAfter(user_id=user_id, timeout_ms=timeout_ms, deadline=deadline)
    # One statement (INSERT ... ON CONFLICT DO UPDATE): two first calls never collide.
    CancelAllAfter.objects.bulk_create(
        [switch], update_conflicts=True, unique_fields=["user_id"], update_fields=["timeout_ms", "deadline"]
    )
    deadman_sweeper_ensure()
    return switch


def _claim(*, now: dt.datetime, user_id: str | None = None, batch: int = 100) -> list[CancelAllAfter]:
    """Take expired switches for this sweeper: lock them (skipping ones another sweeper
    holds) and push their deadline out by a lease, in one short transaction."""
    with transaction.atomic():
        rows = CancelAllAfter.objects.select_for_update(skip_locked=True).filter(deadline__lte=now)
        if user_id is not None:
            rows = rows.filter(user_id=user_id)
        claimed = list(rows.order_by("deadline")[:batch])
        if claimed:
            lease_until = now + LEASE
            CancelAllAfter.objects.filter(pk__in=[s.pk for s in claimed]).update(deadline=lease_until)
            for switch in claimed:
                switch.deadline = lease_until
        return claimed


def _fire(switch: CancelAllAfter) -> int:
    cancelled = user_cancel_everywhere(user_id=switch.user_id)
    # Disarmed once fired, unless the user re-armed it meanwhile (then its deadline moved).
    CancelAllAfter.objects.filter(pk=switch.pk, deadline=switch.deadline).delete()
    logger.info("dead man's switch of user %s fired: %d orders cancelled", switch.user_id, cancelled)
    return cancelled


def _expired_exists(now: dt.datetime, user_id: str | None = None) -> bool:
    """Any switch past its deadline (of `user_id`)? One prepared statement, no transaction:
    every sweeper tick and every write request asks, and the answer is nearly always no."""
    if user_id is None:
        (rows,) = select_together([("SELECT 1 FROM cancel_all_after WHERE deadline <= %s LIMIT 1", [now])])
    else:
        (rows,) = select_together([("SELECT 1 FROM cancel_all_after WHERE user_id = %s AND deadline <= %s",
                                    [user_id, now])])
    return bool(rows)


def deadman_sweep(*, now: dt.datetime | None = None) -> int:
    """Fire every switch whose deadline has passed; returns the number of orders cancelled."""
    now = now or timezone.now()
    if not _expired_exists(now):
        return 0
    cancelled = 0
    while True:
        claimed = _claim(now=now)
        for switch in claimed:
            cancelled += _fire(switch)
        if len(claimed) < 100:
            return cancelled


# `user_for_api_key`'s statement, and whether that user's switch is past its deadline at %s.
_USER_AND_SWITCH_SQL = user_for_key_sql(
    ", EXISTS (SELECT 1 FROM cancel_all_after c WHERE c.user_id = u.id::text AND c.deadline <= %s)")


def deadman_user_for_api_key(key: str, *, now: dt.datetime) -> tuple[User | None, bool]:
    """The active user of an active key (as `user_for_api_key`) and whether its switch is past
    its deadline at `now`, in one statement: a write request authenticates and learns whether
    it must fire its caller's switch first (`deadman_fire_if_expired(expired=...)`) at once."""
    (rows,) = select_together([(_USER_AND_SWITCH_SQL, [now, api_key_hash(key)])])
    if not rows:
        return None, False
    *user, expired = rows[0]
    return User.from_db("default", None, user), expired


def deadman_fire_if_expired(*, user_id: str, now: dt.datetime | None = None, expired: bool | None = None) -> int:
    """The caller's own switch, checked before its write is served (one indexed query, unless
    `expired` says already whether it was past its deadline at `now`)."""
    now = now or timezone.now()
    if expired is None:
        expired = _expired_exists(now, user_id)
    if not expired:
        return 0
    return sum(_fire(switch) for switch in _claim(now=now, user_id=user_id))


def deadman_armed_exists() -> bool:
    (rows,) = select_together([("SELECT 1 FROM cancel_all_after LIMIT 1", [])])
    return bool(rows)


# --- the background sweeper: one daemon thread per process ------------------------------
class _Sweeper:
    """Ticks `deadman_sweep` every EXCHANGE_DEADMAN_TICK_MS.

    `persistent=False` (started lazily by an arm): the thread holds no database connection
    between ticks and ends once no switch is armed anywhere; the next arm starts it again.
    `persistent=True` (gunicorn workers, the command): it runs until `stop()`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._persistent = False
        self._stop = threading.Event()
        self._armed = threading.Event()  # an arm happened since the last "nothing armed"

    def ensure(self, *, persistent: bool = False) -> None:
        with self._lock:
            self._armed.set()
            self._persistent = self._persistent or persistent
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="exchange-deadman-sweeper", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._persistent = False
            self._stop.set()
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        tick = exchange_settings.EXCHANGE_DEADMAN_TICK_MS / 1000
        try:
            while not self._stop.is_set():
                try:
                    deadman_sweep()
                    if not self._persistent and not deadman_armed_exists():
                        with self._lock:
                            if not self._armed.is_set() and not self._persistent:
                                self._thread = None
                                return
                            self._armed.clear()
                except Exception:  # a persistent sweeper survives a lost connection or a failed cancel
                    logger.exception("dead man's switch sweep failed")
                    connection.close()
                    with self._lock:
                        if not self._persistent:  # a lazy one ends; the next arm starts it again
                            self._thread = None
                            return
                if not self._persistent:
                    connection.close()  # hold no connection between ticks (a test database can be dropped)
                self._stop.wait(tick)
        finally:
            connection.close()


_sweeper = _Sweeper()


def deadman_sweeper_ensure(*, persistent: bool = False) -> None:
    """Start this process's sweeper thread if it is not running (cheap when it is)."""
    if exchange_settings.EXCHANGE_DEADMAN_SWEEPER or persistent:
        _sweeper.ensure(persistent=persistent)


def deadman_sweeper_stop() -> None:
    """Stop this process's sweeper thread and close its database connection."""
    _sweeper.stop()


def deadman_sweep_forever(*, tick_ms: int, stop: threading.Event | None = None) -> None:
    """The standalone loop of `manage.py exchange_sweeper` (runs in the calling thread)."""
    stop = stop or threading.Event()
    while not stop.is_set():
        close_old_connections()
        try:
            deadman_sweep()
        except Exception:
            logger.exception("dead man's switch sweep failed")
            connection.close()
        stop.wait(tick_ms / 1000)
