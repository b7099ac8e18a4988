"""Basic admin registrations (the full operator console is a later issue)."""
from __future__ import annotations

from django.contrib import admin

from amm.models import (
    Alert,
    AMMInstance,
    AMMOrder,
    DefenseLevelChange,
    KillSwitchChange,
    LifecycleChange,
    MarketConfig,
    PhaseTransition,
    ReconciliationRun,
)
from amm.services.config import config_save


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AMMInstance)
class AMMInstanceAdmin(admin.ModelAdmin):
    list_display = ("market_id", "lifecycle_state", "phase", "defense_level", "kill_switch", "budget_cents",
                    "updated_at")
    list_filter = ("lifecycle_state", "phase", "defense_level", "kill_switch")
    search_fields = ("market_id",)
    readonly_fields = ("lifecycle_state", "phase", "defense_level", "kill_switch", "kill_switch_by",
                       "kill_switch_reason", "kill_switch_changed_at", "phase_changed_at_ms", "last_rollback_at_ms",
                       "started_at", "stopped_at", "created_at", "updated_at")


@admin.register(MarketConfig)
class MarketConfigAdmin(admin.ModelAdmin):
    list_display = ("instance", "version", "updated_by", "updated_at")
    readonly_fields = ("version", "updated_by", "updated_at")

    def save_model(self, request, obj, form, change):
        config_save(config=obj, actor=getattr(request.user, "username", "") or "admin")


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("created_at", "severity", "type", "market_id", "acknowledged")
    list_filter = ("severity", "type", "acknowledged")
    search_fields = ("market_id",)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "market_id", "verdict", "rebuilt")
    list_filter = ("verdict", "rebuilt")


@admin.register(AMMOrder)
class AMMOrderAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "market_id", "side", "direction", "price_cents", "quantity", "filled_quantity",
                    "state", "created_ms")
    list_filter = ("state", "side", "direction")
    search_fields = ("order_id", "client_order_id", "market_id")


for _model in (PhaseTransition, DefenseLevelChange, LifecycleChange, KillSwitchChange):
    admin.site.register(_model, type(f"{_model.__name__}Admin", (ReadOnlyAdmin,), {
        "list_display": [f.name for f in _model._meta.fields if f.name not in ("id", "instance")],
    }))
