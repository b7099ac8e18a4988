"""AMM instances in the console (SPEC §9).

- The changelist shows each market's lifecycle, phase, defense level and kill switch (the
  database, durable) beside its live figures (Redis: fair price, the AMM's own best bid and
  ask, inventory skew, PnL today), read for the whole page in one pipelined round trip.
- Operator actions (amm/admin/operations.py) run from the changelist on the selected
  instances and from buttons on the instance page, each behind its own permission and a
  confirmation page that asks for the reason.
- The instance page is read-only: state, the newest transitions of its four state machines,
  reconciliation runs, alerts (acknowledge) and a live panel of its Redis working state.
"""
from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from redis.exceptions import RedisError

from amm import selectors
from amm.admin.base import actor
from amm.admin.operations import OPERATIONS, Operation, ReasonForm, operation_run
from amm.models import AMMInstance
from amm.alerts import alert_acknowledge

HISTORY_ROWS = 25  # newest transitions shown per state machine (the full list is one link away)
ALERT_ROWS = 20
RECONCILIATION_ROWS = 10


class LiveChangeList(ChangeList):
    """Gives each row of the page its live figures (`row.live`), read from Redis for the
    whole page at once: one pipelined round trip, not one per row."""

    def get_results(self, request):
        super().get_results(request)
        rows = list(self.result_list)  # evaluates the page once; the template iterates the same objects
        live = _live_read(request, [row.market_id for row in rows])
        for row in rows:
            row.live = live.get(row.market_id)


def _live_read(request, market_ids: list[str]) -> dict[str, selectors.MarketLive]:
    """The live figures, or none with a warning when Redis does not answer: the console still
    lists the instances and runs the operator actions (the database is their source)."""
    try:
        return selectors.markets_live(market_ids=market_ids)
    except RedisError as exc:
        if not getattr(request, "_amm_redis_warned", False):
            request._amm_redis_warned = True
            messages.warning(request, f"Redis did not answer ({exc.__class__.__name__}): no live figures")
        return {}


def _live(obj: AMMInstance) -> selectors.MarketLive | None:
    return getattr(obj, "live", None)


def _quote(quote_: selectors.Quote | None) -> str | None:
    return f"{quote_.price_cents} × {quote_.quantity}" if quote_ else None


def _at_ms(ms: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc) if ms else None


def _changelist_action(operation: Operation):
    """The changelist action of one operation: Django offers it only to users for whom
    has_<permission>_permission is true (and refuses it when POSTed by name otherwise)."""

    def action(modeladmin: "AMMInstanceAdmin", request, queryset):
        return modeladmin.operation_view(request, operation, list(queryset.order_by("market_id")), changelist=True)

    action.__name__ = operation.name
    return admin.action(description=f"{operation.label} (selected AMM instances)",
                        permissions=[operation.permission])(action)


@admin.register(AMMInstance)
class AMMInstanceAdmin(admin.ModelAdmin):
    list_display = ("market_id", "lifecycle_state", "phase", "defense_level", "kill_switch", "market_status",
                    "fair_price", "best_bid", "best_ask", "skew", "pnl_today", "live_orders", "budget")
    list_display_links = ("market_id",)
    list_filter = ("lifecycle_state", "phase", "defense_level", "kill_switch")
    list_select_related = ("config",)
    search_fields = ("market_id",)
    ordering = ("market_id",)
    list_per_page = 50
    actions = [_changelist_action(op) for op in OPERATIONS.values()]
    fieldsets = (
        ("State", {"fields": ("market_id", "lifecycle_state", "phase", "defense_level", "kill_switch")}),
        ("Kill switch", {"fields": ("kill_switch_by", "kill_switch_reason", "kill_switch_changed_at")}),
        ("Budget and config", {"fields": ("budget", "config_link")}),
        ("Times", {"fields": ("phase_changed_at", "last_rollback_at", "started_at", "stopped_at", "created_at",
                              "updated_at")}),
    )
    readonly_fields = ("market_id", "lifecycle_state", "phase", "defense_level", "kill_switch", "kill_switch_by",
                       "kill_switch_reason", "kill_switch_changed_at", "budget", "config_link", "phase_changed_at",
                       "last_rollback_at", "started_at", "stopped_at", "created_at", "updated_at")

    # --- permissions: instances come from amm_enable; their state changes only by operations ----
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_operate_instance_permission(self, request, obj=None):
        return request.user.has_perm("amm.operate_instance")

    def has_engage_killswitch_permission(self, request, obj=None):
        return request.user.has_perm("amm.engage_killswitch")

    def has_reset_killswitch_permission(self, request, obj=None):
        return request.user.has_perm("amm.reset_killswitch")

    def may_run(self, request, operation: Operation, obj=None) -> bool:
        return getattr(self, f"has_{operation.permission}_permission")(request, obj)

    # --- the changelist ---------------------------------------------------------------------------
    def get_changelist(self, request, **kwargs):
        return LiveChangeList

    @admin.display(description="market status")
    def market_status(self, obj):
        live = _live(obj)
        return live.market_status if live else None

    @admin.display(description="fair ¢")
    def fair_price(self, obj):
        live = _live(obj)
        return live.fair_price_cents if live else None

    @admin.display(description="own bid ¢ × qty")
    def best_bid(self, obj):
        live = _live(obj)
        return _quote(live.best_bid) if live else None

    @admin.display(description="own ask ¢ × qty")
    def best_ask(self, obj):
        live = _live(obj)
        return _quote(live.best_ask) if live else None

    @admin.display(description="skew")
    def skew(self, obj):
        live = _live(obj)
        return f"{live.inventory_skew:+.2f}" if live and live.inventory_skew is not None else None

    @admin.display(description="PnL today ¢")
    def pnl_today(self, obj):
        live = _live(obj)
        return live.daily_pnl_cents if live else None

    @admin.display(description="orders")
    def live_orders(self, obj):
        live = _live(obj)
        return len(live.orders) if live and live.synced else None

    @admin.display(description="budget ¢")
    def budget(self, obj):
        return obj.budget_cents

    # --- the instance page ------------------------------------------------------------------------
    @admin.display(description="config")
    def config_link(self, obj):
        config = obj.config
        url = reverse("admin:amm_marketconfig_change", args=[quote(config.pk)])
        return format_html('<a href="{}" id="config-link">version {} (edit)</a>', url, config.version)

    @admin.display(description="phase changed at")
    def phase_changed_at(self, obj):
        return _at_ms(obj.phase_changed_at_ms) or self.get_empty_value_display()

    @admin.display(description="last rollback at")
    def last_rollback_at(self, obj):
        return _at_ms(obj.last_rollback_at_ms) or self.get_empty_value_display()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if obj is not None and self.has_view_permission(request, obj):
            context.update(self._detail_context(request, obj))
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _detail_context(self, request, obj: AMMInstance) -> dict:
        market_id = obj.market_id
        operations = [
            {"name": op.name, "label": op.label,
             "url": reverse("admin:amm_amminstance_operate", args=[quote(obj.pk), op.name])}
            for op in OPERATIONS.values() if self.may_run(request, op, obj)
        ]
        histories = [
            ("Lifecycle", "lifecyclechange", selectors.lifecycle_history(market_id=market_id), "from_state", "to_state"),
            ("Kill switch", "killswitchchange", selectors.kill_switch_history(market_id=market_id), "from_state",
             "to_state"),
            ("Defense level", "defenselevelchange", selectors.defense_history(market_id=market_id), "from_level",
             "to_level"),
            ("Phase", "phasetransition", selectors.phase_history(market_id=market_id), "from_phase", "to_phase"),
        ]
        return {
            "operations": operations,
            "live": _live_read(request, [market_id]).get(market_id),
            "detail": True,  # the sections below the fields (with or without the live state)
            "db_config_version": obj.config.version,
            "histories": [self._history(title, model, rows, source, target, market_id)
                          for title, model, rows, source, target in histories],
            "alerts": list(selectors.alerts_list(market_id=market_id)[:ALERT_ROWS]),
            "can_acknowledge": request.user.has_perm("amm.change_alert"),
            "reconciliation_runs": list(selectors.reconciliation_runs(market_id=market_id)[:RECONCILIATION_ROWS]),
        }

    @staticmethod
    def _history(title: str, model: str, queryset, source: str, target: str, market_id: str) -> dict:
        records = list(queryset[:HISTORY_ROWS + 1])  # newest first (the records' Meta ordering)
        return {
            "title": title,
            "id": model,
            "more": len(records) > HISTORY_ROWS,
            "url": f"{reverse(f'admin:amm_{model}_changelist')}?market_id={market_id}",
            "rows": [{"at": _at_ms(r.timestamp_ms), "source": getattr(r, source), "target": getattr(r, target),
                      "actor": getattr(r, "actor", ""), "reason": r.reason} for r in records[:HISTORY_ROWS]],
        }

    # --- operator actions -------------------------------------------------------------------------
    def get_urls(self):
        own = [
            path("<path:object_id>/operate/<str:operation>/", self.admin_site.admin_view(self.operate_view),
                 name="amm_amminstance_operate"),
            path("<path:object_id>/alerts/<int:alert_id>/acknowledge/",
                 self.admin_site.admin_view(self.alert_acknowledge_view), name="amm_amminstance_alert_acknowledge"),
        ]
        return own + super().get_urls()

    def operate_view(self, request, object_id: str, operation: str):
        """An operation on one instance (the buttons of the instance page): GET asks for the
        reason, POST with `confirm` runs it."""
        op = OPERATIONS.get(operation)
        obj = self.get_object(request, unquote(object_id))
        if op is None or obj is None:
            raise Http404("no such AMM instance or operation")
        if not (self.has_view_permission(request, obj) and self.may_run(request, op, obj)):
            raise PermissionDenied
        response = self.operation_view(request, op, [obj], changelist=False)
        return response or HttpResponseRedirect(reverse("admin:amm_amminstance_change", args=[quote(obj.pk)]))

    def operation_view(self, request, operation: Operation, instances: list[AMMInstance], *, changelist: bool):
        """The confirmation page (the pattern of Django's delete confirmation), or, when it
        was confirmed with a reason, the operation's run and its messages (None: done)."""
        if request.method == "POST" and "confirm" in request.POST:
            form = ReasonForm(request.POST)
            if form.is_valid():
                reason = form.cleaned_data["reason"]
                by_market = {instance.market_id: instance for instance in instances}
                for outcome in operation_run(operation, market_ids=list(by_market), reason=reason,
                                             actor=actor(request)):
                    self.message_user(request, outcome.text, level=outcome.level)
                    if outcome.done:
                        self.log_change(request, by_market[outcome.market_id], f"{operation.label}: {reason}")
                return None
        else:
            form = ReasonForm()
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": f"{operation.label}: are you sure?",
            "subtitle": None,
            "opts": opts,
            "operation": operation,
            "instances": instances,
            "form": form,
            "changelist": changelist,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "original": instances[0] if not changelist else None,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/amm/amminstance/operation_confirmation.html", context)

    def alert_acknowledge_view(self, request, object_id: str, alert_id: int):
        """Acknowledge one of the instance's alerts (POST; needs amm.change_alert)."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("no such AMM instance")
        if request.method != "POST" or not (self.has_view_permission(request, obj)
                                             and request.user.has_perm("amm.change_alert")):
            raise PermissionDenied
        if not selectors.alerts_list(market_id=obj.market_id).filter(pk=alert_id).exists():
            raise Http404("no such alert for this market")
        alert = alert_acknowledge(alert_id=alert_id, actor=actor(request))
        self.message_user(request, f"alert {alert.pk} ({alert.type}) acknowledged")
        return HttpResponseRedirect(reverse("admin:amm_amminstance_change", args=[quote(obj.pk)]) + "#alerts")
