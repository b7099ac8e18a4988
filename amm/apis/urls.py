"""Routes of the AMM monitoring API, mounted at /api/amm/v1/ (SPEC §9)."""
from django.urls import path

from amm.apis.actions import InstanceResumeApi, KillSwitchEngageAllApi, KillSwitchEngageApi, KillSwitchResetApi
from amm.apis.alerts import AlertAcknowledgeApi, AlertListApi, ReconciliationRunListApi
from amm.apis.health import HealthApi
from amm.apis.instances import (
    DefenseHistoryApi,
    InstanceDetailApi,
    InstanceListApi,
    KillSwitchHistoryApi,
    LifecycleHistoryApi,
    PhaseHistoryApi,
)
from amm.apis.reports import DailyReportApi, MintBurnReportApi, PnlReportApi

app_name = "amm-api"

urlpatterns = [
    path("health", HealthApi.as_view(), name="health"),
    path("instances", InstanceListApi.as_view(), name="instances"),
    path("instances/<str:market_id>", InstanceDetailApi.as_view(), name="instance"),
    path("instances/<str:market_id>/phase-history", PhaseHistoryApi.as_view(), name="phase-history"),
    path("instances/<str:market_id>/defense-history", DefenseHistoryApi.as_view(), name="defense-history"),
    path("instances/<str:market_id>/lifecycle-history", LifecycleHistoryApi.as_view(), name="lifecycle-history"),
    path("instances/<str:market_id>/kill-switch-history", KillSwitchHistoryApi.as_view(), name="kill-switch-history"),
    path("instances/<str:market_id>/kill-switch/engage", KillSwitchEngageApi.as_view(), name="kill-switch-engage"),
    path("instances/<str:market_id>/kill-switch/reset", KillSwitchResetApi.as_view(), name="kill-switch-reset"),
    path("instances/<str:market_id>/resume", InstanceResumeApi.as_view(), name="resume"),
    path("kill-switch/engage-all", KillSwitchEngageAllApi.as_view(), name="kill-switch-engage-all"),
    path("alerts", AlertListApi.as_view(), name="alerts"),
    path("alerts/<int:alert_id>/acknowledge", AlertAcknowledgeApi.as_view(), name="alert-acknowledge"),
    path("reconciliation-runs", ReconciliationRunListApi.as_view(), name="reconciliation-runs"),
    path("reports/daily", DailyReportApi.as_view(), name="report-daily"),
    path("reports/pnl/<str:market_id>", PnlReportApi.as_view(), name="report-pnl"),
    path("reports/mintburn/<str:market_id>", MintBurnReportApi.as_view(), name="report-mintburn"),
]
