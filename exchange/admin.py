"""Platform admin: read-mostly views of the tables; money moves only through the services."""
from django.contrib import admin, messages
from django_fsm import FSMField

from exchange.exceptions import ExchangeError
from exchange.models import Account, LedgerEntry, Market, MarketEvent, Order, Position, Trade, User
from exchange.services import market_set_status


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("username", "id", "is_active", "is_staff", "created_at")
    search_fields = ("username", "id")
    readonly_fields = ("id", "password_hash", "created_at")


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("user_id", "available_balance", "frozen_balance", "version", "auto_netting_enabled")
    search_fields = ("user_id",)
    readonly_fields = ("user_id", "available_balance", "frozen_balance", "version")


def _status_action(status: str):
    def action(modeladmin, request, queryset):
        for market in queryset:
            try:
                market_set_status(market_id=market.id, status=status, actor=f"admin:{request.user}")
                modeladmin.message_user(request, f"{market.id}: {status}")
            except ExchangeError as exc:
                modeladmin.message_user(request, f"{market.id}: {exc.detail}", level=messages.ERROR)

    action.__name__ = f"market_{status.lower()}"
    action.short_description = f"Move selected markets to {status}"
    return action


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "status", "outcome", "reserve_balance", "total_yes_shares", "sequence_id")
    list_filter = ("status",)
    search_fields = ("id", "title")
    readonly_fields = ("status", "outcome", "reserve_balance", "total_yes_shares", "total_no_shares", "sequence_id")
    actions = [_status_action(s) for s in ("SUSPENDED", "ACTIVE", "HALTED")]
    formfield_overrides = {FSMField: {"disabled": True}}


@admin.register(MarketEvent)
class MarketEventAdmin(admin.ModelAdmin):
    list_display = ("market", "from_status", "to_status", "actor", "created_at")
    list_filter = ("to_status",)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
