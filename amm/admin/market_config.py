"""Per-market config in the console (SPEC §4 `amm:config:{market_id}`, §9 "validated ranges").

The form's fields come from the model, whose fields, ranges and help texts (with units) come
from `amm.strategy.config`: the model's `clean()` checks the ranges, so an out-of-range value
is an error on its field and nothing is saved. A save goes through `config_save`, which bumps
the version and, once committed, writes `amm:config:{market_id}` (the runtime reloads it).
A form opened on an older version is refused: another operator's change is not overwritten.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin

from amm.admin.base import actor
from amm.models import PARAMETER_NAMES, MarketConfig
from amm.services.market_config import config_save

# Fieldsets by concern; a parameter not named here still shows, under "Other".
_GROUPS = (
    ("Budget and limits", ("budget_limit_cents", "position_limit", "max_loss_daily_cents", "min_asset_floor_cents",
                           "auto_reinvest")),
    ("Spread and risk aversion", ("base_spread_cents", "max_spread_cents", "gamma_short", "gamma_mid", "gamma_long",
                                  "time_smoothing_kappa", "arrival_decay_k", "max_reservation_shift_cents",
                                  "skew_min_inventory")),
    ("Edge, expiry and exposure", ("min_half_spread_cents", "unwind_max_loss_cents", "reduce_only_window_ms",
                                   "expiry_size_horizon_ms", "expiry_risk_weight", "exposure_limit_pct", "exposure_target_pct",
                                   "size_skew_exponent")),
    ("Order-flow intensity", ("intensity_prior_trades", "arrival_decay_k_min", "intensity_half_life_ms")),
    ("Ladder", ("order_levels", "level_spacing_cents", "order_size", "quote_tolerance_cents", "size_tolerance_pct")),
    ("Phase", ("initial_fair_price_cents", "exploration_duration_ms", "exploration_volume_target",
               "exploration_spread_multiplier", "exploration_size_factor", "price_stable_window_ms",
               "price_stable_band_cents")),
    ("Oracle and LVR", ("oracle_url_template", "oracle_stale_ms", "oracle_deviation_cents", "oracle_gap_cents",
                        "lvr_velocity_threshold", "lvr_cooldown_ms")),
    ("Runtime", ("requote_interval_ms", "dead_man_timeout_ms")),
)


def _fieldsets() -> tuple:
    named = {name for _title, names in _GROUPS for name in names}
    groups = [(title, tuple(n for n in names if n in PARAMETER_NAMES)) for title, names in _GROUPS]
    other = tuple(n for n in PARAMETER_NAMES if n not in named)
    return (
        ("Market", {"fields": ("instance", "version", "updated_by", "updated_at")}),
        *((title, {"fields": names}) for title, names in groups + ([("Other", other)] if other else []) if names),
        (None, {"fields": ("loaded_version",)}),
    )


class MarketConfigForm(forms.ModelForm):
    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = MarketConfig
        fields = list(PARAMETER_NAMES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["loaded_version"].initial = self.instance.version

    def clean(self):
        cleaned = super().clean()
        loaded = cleaned.get("loaded_version")
        if self.instance.pk is not None and loaded is not None:
            current = MarketConfig.objects.filter(pk=self.instance.pk).values_list("version", "updated_by").first()
            if current and current[0] != loaded:
                raise forms.ValidationError(
                    f"this config changed since you opened it (now version {current[0]}, by {current[1] or '?'}); "
                    "reload the page and make your change again", code="stale")
        return cleaned


@admin.register(MarketConfig)
class MarketConfigAdmin(admin.ModelAdmin):
    form = MarketConfigForm
    list_display = ("market", "version", "budget_limit_cents", "requote_interval_ms", "order_levels", "updated_by",
                    "updated_at")
    list_select_related = ("instance",)
    search_fields = ("instance__market_id",)
    ordering = ("instance__market_id",)
    readonly_fields = ("instance", "version", "updated_by", "updated_at")
    fieldsets = _fieldsets()

    def has_add_permission(self, request):
        return False  # a config comes with its instance (amm_enable)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="market", ordering="instance__market_id")
    def market(self, obj):
        return obj.instance.market_id

    def save_model(self, request, obj, form, change):
        """Through the service: validate, bump the version, publish to Redis on commit."""
        config_save(config=obj, actor=actor(request))
