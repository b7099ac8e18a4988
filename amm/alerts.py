"""Alerts: raise one (any part of the AMM), acknowledge one (an operator)."""
from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from amm.models import Alert, AlertSeverity
from amm.notify import alert_notify_on_commit

log = logging.getLogger("amm.alerts")

_LEVEL = {AlertSeverity.INFO: logging.INFO, AlertSeverity.WARNING: logging.WARNING,
          AlertSeverity.CRITICAL: logging.ERROR}


def alert_raise(*, type: str, severity: str, market_id: str = "", payload: dict[str, Any] | None = None) -> Alert:
    """Record an alert and log it (the log line is what a pager would watch); once recorded
    (committed), one of AMM_ALERT_WEBHOOK_MIN_SEVERITY or above goes to the webhook from a
    background thread — the caller (a quote cycle) never waits for it (amm/notify)."""
    alert = Alert.objects.create(type=type, severity=severity, market_id=market_id or "", payload=payload or {})
    log.log(_LEVEL.get(severity, logging.WARNING), "ALERT %s %s market=%s %s", severity, type, market_id, payload or {})
    alert_notify_on_commit(alert)
    return alert


def alert_raise_unless_open(*, type: str, severity: str, market_id: str = "",
                            payload: dict[str, Any] | None = None) -> Alert | None:
    """alert_raise, unless the market already has an unacknowledged alert of this type
    (then None): a condition that persists or comes back keeps one alert open, not a flood."""
    if Alert.objects.filter(type=type, market_id=market_id or "", acknowledged=False).exists():
        log.debug("%s of market=%s still open: not raised again", type, market_id)
        return None
    return alert_raise(type=type, severity=severity, market_id=market_id, payload=payload)


@transaction.atomic
def alert_acknowledge(*, alert_id: int, actor: str) -> Alert:
    alert = Alert.objects.select_for_update().get(pk=alert_id)
    if not alert.acknowledged:
        alert.acknowledged = True
        alert.acknowledged_by = actor
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["acknowledged", "acknowledged_by", "acknowledged_at"])
    return alert
