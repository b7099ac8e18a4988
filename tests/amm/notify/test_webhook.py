"""Alerts reach people (issue 11): CRITICAL alerts POSTed to a real local HTTP server, with
bounded retries and backoff, off the caller's thread, only once committed; nothing below the
minimum severity, nothing without a webhook."""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction

from amm.models import Alert, AlertSeverity, AlertType
from amm.notify import AlertNotifier, Notification, notifications_flush
from amm.services import alert_raise, instance_enable, instance_kill, instance_running, instance_start

pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """A webhook receiver on 127.0.0.1: answers 500 to the first `fail_first` requests, then
    200; with `hold`, keeps each request until the test sets it."""

    def __init__(self, *, fail_first: int = 0, hold: bool = False) -> None:
        self.fail_first = fail_first
        self.hold = threading.Event() if hold else None
        self.bodies: list[dict] = []
        self.received = threading.Event()
        self.answered = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.bodies.append(body)
                receiver.received.set()
                if receiver.hold is not None:
                    receiver.hold.wait(60)
                status = 500 if len(receiver.bodies) <= receiver.fail_first else 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    receiver.answered += 1
                except OSError:  # the client gave up (timeout)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-path"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(settings, caplog):
    """A receiver factory; the settings point at the last one made; short backoff."""
    made: list[Receiver] = []
    caplog.set_level(logging.INFO, logger="amm.notify")
    settings.AMM_ALERT_WEBHOOK_TIMEOUT_MS = 2000
    settings.AMM_ALERT_WEBHOOK_RETRIES = 3
    settings.AMM_ALERT_WEBHOOK_BACKOFF_MS = 10
    settings.AMM_ALERT_WEBHOOK_MIN_SEVERITY = "CRITICAL"

    def make(**kwargs) -> Receiver:
        receiver = Receiver(**kwargs)
        made.append(receiver)
        settings.AMM_ALERT_WEBHOOK_URL = receiver.url
        return receiver

    yield make
    for receiver in made:
        if receiver.hold is not None:
            receiver.hold.set()
    assert notifications_flush(30)
    for receiver in made:
        receiver.close()


def notify_log(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "amm.notify"]


def test_a_critical_alert_arrives_after_the_webhook_failed_twice(webhook, caplog):
    receiver = webhook(fail_first=2)
    alert = alert_raise(type=AlertType.INVENTORY_DRIFT_CRITICAL, severity=AlertSeverity.CRITICAL,
                        market_id="M-1", payload={"diffs": {"cash": 700}})
    assert notifications_flush(10)
    assert len(receiver.bodies) == 3  # two 500s, then accepted
    assert receiver.bodies[-1] == {"alert_id": alert.pk, "type": "INVENTORY_DRIFT_CRITICAL",
                                   "severity": "CRITICAL", "market_id": "M-1",
                                   "payload": {"diffs": {"cash": 700}}, "created_at": alert.created_at.isoformat()}
    log = notify_log(caplog)
    assert sum("retrying" in line for line in log) == 2
    assert any(f"alert {alert.pk} " in line and "delivered" in line and "attempt 3" in line for line in log), log
    assert not any("secret-path" in line for line in log)  # the URL's path may be a secret


def test_retries_are_bounded_and_the_failure_logged(webhook, settings, caplog):
    receiver = webhook(fail_first=100)
    settings.AMM_ALERT_WEBHOOK_RETRIES = 2
    alert = alert_raise(type=AlertType.SYNC_FAILED, severity=AlertSeverity.CRITICAL, market_id="M-1")
    assert notifications_flush(10)
    assert len(receiver.bodies) == 3  # 1 + 2 retries, then given up
    failed = [r for r in caplog.records if r.name == "amm.notify" and r.levelno == logging.ERROR]
    assert len(failed) == 1 and "NOT delivered" in failed[0].getMessage() and "HTTP 500" in failed[0].getMessage()
    assert Alert.objects.filter(pk=alert.pk).exists()  # the alert stays recorded


def test_alert_raise_returns_before_the_webhook_answers(webhook, settings, caplog):
    """The receiver holds the request until the test lets it go, which the test does only
    after alert_raise returned: a caller waiting on the webhook would still be waiting."""
    receiver = webhook(hold=True)
    settings.AMM_ALERT_WEBHOOK_TIMEOUT_MS = 20_000
    settings.AMM_ALERT_WEBHOOK_RETRIES = 0
    alert = alert_raise(type=AlertType.KILL_SWITCH, severity=AlertSeverity.CRITICAL, market_id="M-1")
    assert receiver.answered == 0 and notify_log(caplog) == []  # no attempt has finished
    assert receiver.received.wait(10)  # the sender's first attempt is under way
    receiver.hold.set()
    assert notifications_flush(10)
    # the sender's own record of the 200: the receiver's counter moves only after its answer
    # left, so the sender can be done before the receiver's thread counts it
    assert [b["alert_id"] for b in receiver.bodies] == [alert.pk]
    assert any(f"alert {alert.pk} " in line and "delivered" in line for line in notify_log(caplog))


def test_a_webhook_hanging_past_its_timeout_is_given_up_and_logged(webhook, settings, caplog):
    receiver = webhook(hold=True)  # never answers while the test runs
    settings.AMM_ALERT_WEBHOOK_TIMEOUT_MS = 200
    settings.AMM_ALERT_WEBHOOK_RETRIES = 1
    alert = alert_raise(type=AlertType.KILL_SWITCH, severity=AlertSeverity.CRITICAL, market_id="M-1")
    assert notifications_flush(10)
    assert len(receiver.bodies) == 2 and receiver.answered == 0
    failed = [r.getMessage() for r in caplog.records if r.name == "amm.notify" and r.levelno == logging.ERROR]
    assert len(failed) == 1 and f"alert {alert.pk} " in failed[0] and "timed out" in failed[0], failed
    assert Alert.objects.filter(pk=alert.pk).exists()


def test_an_alert_below_the_minimum_severity_is_not_sent(webhook, settings):
    receiver = webhook()
    alert_raise(type=AlertType.ORDER_REJECTED, severity=AlertSeverity.WARNING, market_id="M-1")
    critical = alert_raise(type=AlertType.SYNC_FAILED, severity=AlertSeverity.CRITICAL, market_id="M-1")
    assert notifications_flush(10)
    assert [b["alert_id"] for b in receiver.bodies] == [critical.pk]  # one sender, in order: no WARNING before it

    settings.AMM_ALERT_WEBHOOK_MIN_SEVERITY = "WARNING"
    warning = alert_raise(type=AlertType.ORDER_REJECTED, severity=AlertSeverity.WARNING, market_id="M-1")
    alert_raise(type=AlertType.ORDER_REJECTED, severity=AlertSeverity.INFO, market_id="M-1")
    assert notifications_flush(10)
    assert [b["alert_id"] for b in receiver.bodies] == [critical.pk, warning.pk]


def test_without_a_webhook_nothing_is_sent(webhook, settings):
    receiver = webhook()
    settings.AMM_ALERT_WEBHOOK_URL = ""
    alert_raise(type=AlertType.SYNC_FAILED, severity=AlertSeverity.CRITICAL, market_id="M-1")
    assert notifications_flush(10)
    settings.AMM_ALERT_WEBHOOK_URL = receiver.url
    second = alert_raise(type=AlertType.SYNC_FAILED, severity=AlertSeverity.CRITICAL, market_id="M-2")
    assert notifications_flush(10)
    assert [b["alert_id"] for b in receiver.bodies] == [second.pk]


def test_an_alert_rolled_back_is_never_sent_and_the_kill_switch_is_once_committed(webhook):
    receiver = webhook()
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            alert_raise(type=AlertType.SYNC_FAILED, severity=AlertSeverity.CRITICAL, market_id="M-1")
            raise RuntimeError("rolled back")
    instance_enable(market_id="M-K", actor="test")
    instance_start(market_id="M-K", actor="test")
    instance_running(market_id="M-K")
    instance_kill(market_id="M-K", actor="ops", reason="webhook test")  # raises its alert inside its transaction
    assert notifications_flush(10)
    assert [(b["type"], b["market_id"], b["payload"]["reason"]) for b in receiver.bodies] == [
        ("KILL_SWITCH", "M-K", "webhook test")]


def test_a_full_queue_drops_and_logs_without_waiting(webhook, settings, caplog):
    receiver = webhook(hold=True)
    notifier = AlertNotifier(maxsize=1)

    def item(n: int) -> Notification:
        return Notification(body={"alert_id": n, "type": "KILL_SWITCH", "severity": "CRITICAL"}, url=receiver.url,
                            timeout_s=20, retries=0, backoff_s=0)

    assert notifier.submit(item(1))
    assert receiver.received.wait(10)  # 1 is in flight, held
    assert notifier.submit(item(2))  # 2 waits in the queue
    assert not notifier.submit(item(3))  # no room: dropped at once
    assert any("alert 3 " in line and "queue full" in line for line in notify_log(caplog))
    receiver.hold.set()
    assert notifier.flush(10)
    assert [b["alert_id"] for b in receiver.bodies] == [1, 2]
