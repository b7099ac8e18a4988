"""Platform admin (SPEC §3.4, §9): market status changes through the market state machine's
service, everything that holds money read-only (accounts' balances, positions, ledger,
trades, orders): money moves only through the services, never through a form."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from exchange.enums import MarketStatus, Outcome
from exchange.exceptions import ExchangeError
from exchange.models import Account, LedgerEntry, Market, MarketEvent, Order, Position, Trade, User
from exchange.services import account_auto_netting_check, account_auto_netting_set, market_set_status


def _actor(request) -> str:
    return f"admin:{request.user.get_username()}"


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("username", "id", "is_active", "is_staff", "created_at")
    search_fields = ("username", "id")
    readonly_fields = ("id", "password_hash", "created_at")

    def has_add_permission(self, request):
        return False  # a user comes with its account (exchange_user, user_get_or_create)

    def has_delete_permission(self, request, obj=None):
        return False


class AccountForm(forms.ModelForm):
    """Only the netting flag is editable; the service's own check refuses it for the AMM."""

    class Meta:
        model = Account
        fields = ["auto_netting_enabled"]

    def clean_auto_netting_enabled(self):
        enabled = self.cleaned_data["auto_netting_enabled"]
        try:
            account_auto_netting_check(user_id=self.instance.user_id, enabled=enabled)
        except ExchangeError as exc:
            raise forms.ValidationError(exc.detail, code=exc.code) from exc
        return enabled


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = ("user_id", "available_balance", "frozen_balance", "version", "auto_netting_enabled")
    search_fields = ("user_id",)
    readonly_fields = ("user_id", "available_balance", "frozen_balance", "version")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """One column through the service (a plain save would write back the balances as the
        form read them, over any trade since)."""
        account_auto_netting_set(user_id=obj.user_id, enabled=form.cleaned_data["auto_netting_enabled"],
                                 actor=_actor(request))


# --- markets: status changes through the state machine's service (SPEC §3.4) -------------------
class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outcome.choices, widget=forms.RadioSelect)


def _set_status(modeladmin, request, markets, status: str, outcome: str | None = None) -> None:
    """One service call per market; an illegal move is that market's error message (the
    service changed nothing), the others go on."""
    for market in markets:
        try:
            market_set_status(market_id=market.id, status=status, outcome=outcome, actor=_actor(request))
        except ExchangeError as exc:
            modeladmin.message_user(request, f"{market.id}: {exc.detail}", level=messages.ERROR)
        else:
            modeladmin.message_user(request, f"{market.id}: {status}{f' ({outcome})' if outcome else ''}",
                                    level=messages.SUCCESS)


# Statuses whose change moves money or cannot be undone: confirmed on a page first.
_CONFIRMED = {
    MarketStatus.RESOLVED: "Resolve: every open order is cancelled and the outcome is fixed; SETTLED then pays "
                           "100 cents per winning share.",
    MarketStatus.SETTLED: "Settle: every winning share is paid 100 cents from the market's reserve. Cannot be undone.",
    MarketStatus.VOIDED: "Void: every open order is cancelled and every position refunded at cost. Cannot be undone.",
}


def _status_action(status: str):
    def action(modeladmin, request, queryset):
        markets = list(queryset.order_by("id"))
        if status not in _CONFIRMED:
            return _set_status(modeladmin, request, markets, status)
        confirmed = "confirm" in request.POST
        form = None
        if status == MarketStatus.RESOLVED:
            form = ResolveForm(request.POST) if confirmed else ResolveForm()
        if confirmed and (form is None or form.is_valid()):
            return _set_status(modeladmin, request, markets, status, form.cleaned_data["outcome"] if form else None)
        return TemplateResponse(request, "admin/exchange/market/status_confirmation.html", {
            **modeladmin.admin_site.each_context(request),
            "title": f"Move to {status}: are you sure?",
            "opts": modeladmin.model._meta,
            "markets": markets,
            "status": status,
            "description": _CONFIRMED[status],
            "form": form,
            "action_name": f"market_{status.lower()}",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })

    action.__name__ = f"market_{status.lower()}"
    return admin.action(description=f"Move selected markets to {status}", permissions=["change"])(action)


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "status", "outcome", "reserve_balance", "total_yes_shares", "sequence_id")
    list_filter = ("status",)
    search_fields = ("id", "title")
    fields = ("id", "title", "status", "outcome", "trading_end_at", "resolution_date", "min_price_cents",
              "max_price_cents", "maker_fee_bps", "taker_fee_bps", "reserve_balance", "total_yes_shares",
              "total_no_shares", "sequence_id")
    # Only the title and the dates are edited here; the status moves by the actions below.
    readonly_fields = ("id", "status", "outcome", "min_price_cents", "max_price_cents", "maker_fee_bps",
                       "taker_fee_bps", "reserve_balance", "total_yes_shares", "total_no_shares", "sequence_id")
    actions = [_status_action(s) for s in (MarketStatus.SUSPENDED, MarketStatus.ACTIVE, MarketStatus.HALTED,
                                           MarketStatus.RESOLVED, MarketStatus.SETTLED, MarketStatus.VOIDED)]

    def save_model(self, request, obj, form, change):
        """Only the edited columns: a plain save would write back the reserve, the share totals
        and the book's sequence as the form read them, over every trade since."""
        changed = [name for name in form.changed_data if name in ("title", "trading_end_at", "resolution_date")]
        if changed:
            obj.save(update_fields=[*changed, "updated_at"])

    def has_add_permission(self, request):
        return False  # markets are created through market_create (exchange_market create, the API)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MarketEvent)
class MarketEventAdmin(ReadOnlyAdmin):
    list_display = ("market", "from_status", "to_status", "actor", "created_at")
    list_filter = ("to_status",)
    search_fields = ("market__id",)


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ("user_id", "market", "yes_volume", "yes_cost_sum", "no_volume", "no_cost_sum", "realized_pnl")
    search_fields = ("user_id", "market__id")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "user_id", "market", "original_side", "original_direction", "price_cents", "quantity",
                    "filled_quantity", "status", "created_at")
    list_filter = ("status", "book_type")
    search_fields = ("id", "client_order_id", "user_id")


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ("id", "market", "scenario", "price_cents", "quantity", "buy_user_id", "sell_user_id",
                    "executed_at")
    list_filter = ("scenario",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "user_id", "market", "entry_type", "amount", "balance_after", "reference_type",
                    "created_at")
    list_filter = ("entry_type", "reference_type")
    search_fields = ("user_id", "reference_id")
