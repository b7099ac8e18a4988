"""Alerts for operators and the record of every reconciliation run (seed §7.3)."""
from __future__ import annotations

from django.db import models


class AlertType(models.TextChoices):
    INVENTORY_DRIFT_CRITICAL = "INVENTORY_DRIFT_CRITICAL"  # seed §7.3
    ORDERS_FORGOTTEN = "ORDERS_FORGOTTEN"  # platform has live AMM orders Redis does not track
    ORDER_REJECTED = "ORDER_REJECTED"  # seed §2.3: REJECTED -> log + alert
    UNKNOWN_ORDER_OUTCOME = "UNKNOWN_ORDER_OUTCOME"  # SPEC §7: could not be resolved yet
    KILL_SWITCH = "KILL_SWITCH"  # SPEC §5: KILL_SWITCH fires an alert
    SYNC_FAILED = "SYNC_FAILED"  # startup sync could not complete
    MINT_BURN_INCONSISTENT = "MINT_BURN_INCONSISTENT"  # seed §8.4
    ORACLE_FAILED = "ORACLE_FAILED"  # SPEC §6: the market's oracle source failed AMM_ORACLE_ALERT_AFTER_FAILURES polls in a row
    PUSH_FALLBACK = "PUSH_FALLBACK"  # docs/push.md: the event stream or a book feed is unhealthy, REST polling instead


class AlertSeverity(models.TextChoices):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class Alert(models.Model):
    type = models.CharField(max_length=32, choices=AlertType.choices)
    severity = models.CharField(max_length=8, choices=AlertSeverity.choices)
    market_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    acknowledged = models.BooleanField(default=False)
    acknowledged_by = models.CharField(max_length=150, blank=True, default="")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "amm_alert"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["acknowledged", "created_at"], name="ix_amm_alert_open")]

    def __str__(self) -> str:
        return f"{self.severity} {self.type} {self.market_id}"


class ReconciliationVerdict(models.TextChoices):
    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class ReconciliationRun(models.Model):
    """One Redis <-> platform comparison (seed §7.3): diffs, verdict, whether Redis was rebuilt."""

    market_id = models.CharField(max_length=64, db_index=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    diffs = models.JSONField(default=dict)
    verdict = models.CharField(max_length=8, choices=ReconciliationVerdict.choices)
    rebuilt = models.BooleanField(default=False)
    detail = models.TextField(blank=True, default="")

    class Meta:
        db_table = "amm_reconciliation_run"
        ordering = ["-started_at", "-id"]
        # A market's latest run in one index probe (the metrics scrape asks for every market's).
        indexes = [models.Index(fields=["market_id", "-started_at", "-id"], name="ix_amm_recon_latest")]

    def __str__(self) -> str:
        return f"reconcile {self.market_id} {self.verdict} at {self.started_at:%Y-%m-%d %H:%M:%S}"
