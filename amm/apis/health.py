"""Health: 200 when every check passes, 503 when one fails (SPEC §9), for load balancers and
monitors.

Anonymous on purpose: a load balancer's probe carries no credentials, and a health check that
needs the database's token table to answer cannot say the database is down. An anonymous
caller learns only ok / failing per check; a user holding amm.view_amminstance also gets the
details (latencies, stale markets, ages, error texts), which name markets and hosts.
"""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from amm.apis.base import VIEW_PERMISSION, AmmApi, Output
from amm.services.health import CHECKS, health_check


class CheckOutput(Output):
    status = serializers.ChoiceField(choices=["ok", "failing"])
    detail = serializers.CharField(required=False, help_text="only for a user holding amm.view_amminstance")
    data = serializers.JSONField(required=False, help_text="only for a user holding amm.view_amminstance")


class HealthApi(AmmApi):
    """Database, Redis, platform, quote loops, fill feed: 200 when all are ok, else 503."""

    permission_classes = [AllowAny]

    def perform_authentication(self, request):
        pass  # lazy: credentials are read only to decide on details (_may_see_details)

    class OutputSerializer(Output):
        status = serializers.ChoiceField(choices=["ok", "failing"])
        checks = serializers.DictField(child=CheckOutput(), help_text=f"by name: {', '.join(CHECKS)}")

    @extend_schema(operation_id="amm_health", responses={200: OutputSerializer, 503: OutputSerializer})
    def get(self, request):
        health = health_check()
        detailed = self._may_see_details(request)
        checks = {}
        for check in health.checks:
            row = {"status": "ok" if check.ok else "failing"}
            if detailed:
                row.update(detail=check.detail, data=check.data)
            checks[check.name] = row
        body = {"status": "ok" if health.ok else "failing", "checks": checks}
        return Response(HealthApi.OutputSerializer(body).data, status=200 if health.ok else 503)

    @staticmethod
    def _may_see_details(request) -> bool:
        user = request.user
        try:
            return bool(user and user.is_authenticated and user.is_active and user.has_perm(VIEW_PERMISSION))
        except Exception:  # noqa: BLE001 - a bad token, or the database (tokens, permissions) down: no details
            return False
