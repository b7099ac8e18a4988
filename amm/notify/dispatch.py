"""Alerts reach people: an alert of AMM_ALERT_WEBHOOK_MIN_SEVERITY or above (CRITICAL by
default: drift, kill switch, sync failure) is POSTed to AMM_ALERT_WEBHOOK_URL once its
transaction commits (an alert rolled back is never sent).

Why a background thread of the raising process, not an RQ job: alerts are raised in every
kind of process — quote cycles and reconciliations in RQ workers, the kill switch from the
admin (gunicorn) or `amm_kill`, a failed startup sync in run_amm. run_amm's workers listen
on the `amm` queue only, where a webhook job retrying a slow receiver (up to
timeout × (1 + retries) plus backoff) would hold a quote worker; on `default` nothing under
run_amm would run it. A thread sends from whichever process raised the alert, and the caller
pays one `put_nowait` on an in-memory queue — no Redis round trip, never a wait. The cost: a
notification still queued when its process dies is lost; the Alert row and its log line
(what the console and a log pager watch) stay, and a process exiting normally (a management
command, a worker's warm shutdown) first waits up to EXIT_DRAIN_S for its queue to drain.

The queue is bounded (QUEUE_SIZE): when a dead receiver lets it fill up, further
notifications are logged and dropped, never blocking. One sender per process (forked
gunicorn workers each start their own).
"""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from amm.conf import amm_settings
from amm.notify.webhook import WebhookOutcome, webhook_client, webhook_post, webhook_where

log = logging.getLogger("amm.notify")

SEVERITY_RANK = {"INFO": 0, "WARNING": 1, "CRITICAL": 2}
QUEUE_SIZE = 100
EXIT_DRAIN_S = 5.0


@dataclass(frozen=True, slots=True)
class Notification:
    body: dict[str, Any]
    url: str
    timeout_s: float
    retries: int
    backoff_s: float


def alert_body(alert) -> dict[str, Any]:
    """The webhook's JSON body for one Alert row."""
    return {"alert_id": alert.pk, "type": str(alert.type), "severity": str(alert.severity),
            "market_id": alert.market_id, "payload": alert.payload,
            "created_at": alert.created_at.isoformat() if alert.created_at else None}


def alert_wanted(severity: str) -> bool:
    """A webhook is configured and `severity` reaches its minimum."""
    minimum = SEVERITY_RANK.get(amm_settings.AMM_ALERT_WEBHOOK_MIN_SEVERITY, 2)
    return bool(amm_settings.AMM_ALERT_WEBHOOK_URL) and SEVERITY_RANK.get(str(severity), 0) >= minimum


class AlertNotifier:
    """A bounded queue and the one thread that POSTs what is put on it."""

    def __init__(self, *, maxsize: int = QUEUE_SIZE) -> None:
        self._queue: queue.Queue[Notification] = queue.Queue(maxsize=maxsize)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, notification: Notification) -> bool:
        """Queue a notification; False (logged) when the queue is full. Never waits."""
        self._ensure_thread()
        try:
            self._queue.put_nowait(notification)
        except queue.Full:
            log.error("alert %s (%s %s): notification queue full (%d waiting), not sent to the webhook",
                      notification.body.get("alert_id"), notification.body.get("severity"),
                      notification.body.get("type"), self._queue.qsize())
            return False
        return True

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything queued has been sent or given up; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="amm-alert-webhook", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        with webhook_client() as client:
            while True:
                item = self._queue.get()
                try:
                    self._send(client, item)
                except Exception:  # noqa: BLE001 - the sender must outlive any one notification
                    log.exception("alert %s: webhook notification failed", item.body.get("alert_id"))
                finally:
                    self._queue.task_done()

    @staticmethod
    def _send(client, item: Notification) -> WebhookOutcome:
        body = item.body
        outcome = webhook_post(item.url, body, timeout_s=item.timeout_s, retries=item.retries,
                               backoff_s=item.backoff_s, client=client)
        if outcome.delivered:
            log.info("alert %s (%s %s) delivered to the webhook %s (attempt %d)", body.get("alert_id"),
                     body.get("severity"), body.get("type"), webhook_where(item.url), outcome.attempts)
        else:
            log.error("alert %s (%s %s) NOT delivered to the webhook %s after %d attempts: %s "
                      "(the alert stays recorded)", body.get("alert_id"), body.get("severity"), body.get("type"),
                      webhook_where(item.url), outcome.attempts, outcome.error)
        return outcome


_notifier: AlertNotifier | None = None
_notifier_pid = 0
_notifier_lock = threading.Lock()


def notifier() -> AlertNotifier:
    """This process's notifier (a forked child gets a new one: threads do not survive fork)."""
    global _notifier, _notifier_pid
    with _notifier_lock:
        if _notifier is None or _notifier_pid != os.getpid():
            _notifier, _notifier_pid = AlertNotifier(), os.getpid()
            atexit.register(_drain_at_exit, _notifier)
        return _notifier


def _drain_at_exit(instance: AlertNotifier) -> None:
    if instance is _notifier and not instance.flush(EXIT_DRAIN_S):
        log.error("exiting with alert notifications still queued or in flight: not sent")


def alert_notify(alert) -> bool:
    """Queue the webhook POST of one alert (if wanted); never raises, never waits."""
    try:
        if not alert_wanted(alert.severity):
            return False
        return notifier().submit(Notification(
            body=alert_body(alert), url=amm_settings.AMM_ALERT_WEBHOOK_URL,
            timeout_s=int(amm_settings.AMM_ALERT_WEBHOOK_TIMEOUT_MS) / 1000,
            retries=int(amm_settings.AMM_ALERT_WEBHOOK_RETRIES),
            backoff_s=amm_settings.AMM_ALERT_WEBHOOK_BACKOFF_MS / 1000,
        ))
    except Exception:  # noqa: BLE001 - a notification must never break the code that raised the alert
        log.exception("alert %s: could not queue its webhook notification; dropped", getattr(alert, "pk", None))
        return False


def alert_notify_on_commit(alert) -> None:
    """Send the alert once the transaction that recorded it commits (at once outside one)."""
    if alert_wanted(alert.severity):
        transaction.on_commit(lambda: alert_notify(alert))


def notifications_flush(timeout_s: float = EXIT_DRAIN_S) -> bool:
    """Wait for this process's queued notifications to be sent or given up (tests, exits)."""
    return _notifier is None or _notifier.flush(timeout_s)
