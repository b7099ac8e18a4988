"""Alerts (filter, acknowledge) and reconciliation runs (seed §7.3: every run recorded)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from amm import selectors
from amm.apis.base import AmmApi, AmmListApi, HasPerm, Output, errors
from amm.apis.filters import AlertFilter, ReconciliationRunFilter
from amm.models import Alert, AlertSeverity, AlertType, ReconciliationVerdict
from amm.alerts import alert_acknowledge

ACKNOWLEDGE_PERMISSION = "amm.change_alert"


class AlertOutput(Output):
    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=AlertType.choices)
    severity = serializers.ChoiceField(choices=AlertSeverity.choices)
    market_id = serializers.CharField(help_text="empty for an alert about no one market")
    payload = serializers.JSONField()
    acknowledged = serializers.BooleanField()
    acknowledged_by = serializers.CharField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class AlertListApi(AmmListApi):
    """Alerts, newest first; filter by market, severity, type, acknowledged."""

    filterset_class = AlertFilter
    OutputSerializer = AlertOutput

    def get_queryset(self):
        return selectors.alerts_list()

    @extend_schema(operation_id="amm_alerts_list", responses={200: AlertOutput, **errors()})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AlertAcknowledgeApi(AmmApi):
    """Acknowledge an alert (needs amm.change_alert); acknowledging it again changes nothing."""

    permission_classes = [HasPerm(ACKNOWLEDGE_PERMISSION)]

    @extend_schema(operation_id="amm_alert_acknowledge", request=None, responses={200: AlertOutput, **errors(404)})
    def post(self, request, alert_id: int):
        try:
            alert = alert_acknowledge(alert_id=alert_id, actor=self.actor)
        except Alert.DoesNotExist:
            raise NotFound(f"no alert {alert_id}") from None
        return Response(AlertOutput(alert).data)


class ReconciliationRunListApi(AmmListApi):
    """Reconciliation runs (Redis against the platform), newest first; filter by market, verdict."""

    filterset_class = ReconciliationRunFilter

    class OutputSerializer(Output):
        id = serializers.IntegerField()
        market_id = serializers.CharField()
        started_at = serializers.DateTimeField()
        finished_at = serializers.DateTimeField()
        verdict = serializers.ChoiceField(choices=ReconciliationVerdict.choices)
        diffs = serializers.JSONField(help_text="absolute differences per field, the trigger, what was beyond "
                                                "tolerance")
        rebuilt = serializers.BooleanField(help_text="Redis was rebuilt from the platform")
        detail = serializers.CharField()

    def get_queryset(self):
        return selectors.reconciliation_runs()

    @extend_schema(operation_id="amm_reconciliation_runs_list", responses={200: OutputSerializer, **errors()})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
