"""The AMM's records in the console: alerts (acknowledged through the service), reconciliation
runs, the order history and the transitions of the four state machines — all read-only."""
from __future__ import annotations

import datetime as dt

from django.contrib import admin

from amm.admin.base import ReadOnlyAdmin, actor
from amm.models import (
    Alert,
    AMMOrder,
    DefenseLevelChange,
    KillSwitchChange,
    LifecycleChange,
    PhaseTransition,
    ReconciliationRun,
)
from amm.alerts import alert_acknowledge


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "severity", "type", "market_id", "acknowledged", "acknowledged_by")
    list_filter = ("acknowledged", "severity", "type")
    search_fields = ("market_id",)
    actions = ["acknowledge"]

    def has_acknowledge_permission(self, request, obj=None):
        return request.user.has_perm("amm.change_alert")

    @admin.action(description="Acknowledge selected alerts", permissions=["acknowledge"])
    def acknowledge(self, request, queryset):
        ids = list(queryset.filter(acknowledged=False).values_list("pk", flat=True))
        for alert_id in ids:
            alert_acknowledge(alert_id=alert_id, actor=actor(request))
        self.message_user(request, f"{len(ids)} alerts acknowledged")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "market_id", "verdict", "rebuilt", "finished_at")
    list_filter = ("verdict", "rebuilt")
    search_fields = ("market_id",)


@admin.register(AMMOrder)
class AMMOrderAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "market_id", "side", "direction", "price_cents", "quantity", "filled_quantity",
                    "state", "created_ms")
    list_filter = ("state", "side", "direction")
    search_fields = ("order_id", "client_order_id", "market_id")


class _TransitionAdmin(ReadOnlyAdmin):
    search_fields = ("market_id",)

    @admin.display(description="at", ordering="timestamp_ms")
    def at(self, obj):
        return dt.datetime.fromtimestamp(obj.timestamp_ms / 1000, tz=dt.timezone.utc)


@admin.register(LifecycleChange)
class LifecycleChangeAdmin(_TransitionAdmin):
    list_display = ("at", "market_id", "from_state", "to_state", "actor", "reason")
    list_filter = ("to_state",)


@admin.register(KillSwitchChange)
class KillSwitchChangeAdmin(_TransitionAdmin):
    list_display = ("at", "market_id", "from_state", "to_state", "actor", "reason")
    list_filter = ("to_state",)


@admin.register(DefenseLevelChange)
class DefenseLevelChangeAdmin(_TransitionAdmin):
    list_display = ("at", "market_id", "from_level", "to_level", "actor", "reason")
    list_filter = ("to_level",)


@admin.register(PhaseTransition)
class PhaseTransitionAdmin(_TransitionAdmin):
    list_display = ("at", "market_id", "from_phase", "to_phase", "reason")
    list_filter = ("reason",)
