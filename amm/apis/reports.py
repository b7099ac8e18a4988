"""The audit reports (seed §2.4, §8.3, §8.4; SPEC §8) as endpoints: the same functions as the
`amm_report_*` commands (amm.services.audit), so the same figures. They read the platform
through the connector (AMM_PLATFORM_*): a platform that does not answer is a 502. A failed
check is an answer (200 with `ok` / `ledger_matches` false), not an error."""
from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from amm.apis.base import AmmApi, Input, Output, errors, query_params
from amm.connector import connector_from_settings
from amm.services.audit import daily_report, mintburn_report, pnl_report


class ScenarioOutput(Output):
    scenario = serializers.CharField(help_text="MINT, TRANSFER_YES, TRANSFER_NO, BURN (or TOTAL)")
    trade_count = serializers.IntegerField()
    total_quantity = serializers.IntegerField()
    fees_paid_cents = serializers.IntegerField(help_text="fees the AMM paid")
    realized_pnl_cents = serializers.IntegerField()
    cash_flow_cents = serializers.IntegerField(help_text="what these fills moved in the AMM's cash, fees included")


class _PeriodOutput(Output):
    date = serializers.SerializerMethodField()
    time_zone = serializers.SerializerMethodField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()

    def get_date(self, report) -> dt.date:
        return report.start.date()

    def get_time_zone(self, report) -> str:
        return str(report.start.tzinfo)


class LedgerRowOutput(Output):
    entry_type = serializers.CharField()
    reference_type = serializers.CharField()
    amount_cents = serializers.IntegerField()


class MintBurnCheckOutput(Output):
    name = serializers.CharField()
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class _DayInput(Input):
    date = serializers.DateField(required=False, help_text="YYYY-MM-DD in TIME_ZONE (default: today)")


class DailyReportApi(AmmApi):
    """The AMM's trades of a day by scenario: count, quantity, fees paid, realized PnL (seed §2.4)."""

    class FilterSerializer(_DayInput):
        market = serializers.CharField(required=False, help_text="one market (default: all)")

    class OutputSerializer(_PeriodOutput):
        market_id = serializers.CharField(allow_null=True, help_text="null: every market")
        scenarios = ScenarioOutput(many=True)
        total = ScenarioOutput()

    @extend_schema(operation_id="amm_report_daily", parameters=[FilterSerializer],
                   responses={200: OutputSerializer, **errors(502)})
    def get(self, request):
        filters = query_params(DailyReportApi.FilterSerializer, request)
        with connector_from_settings() as connector:
            report = daily_report(connector, market_id=filters.get("market"), day=filters.get("date"))
        return Response(DailyReportApi.OutputSerializer(report).data)


class PnlReportApi(AmmApi):
    """End-of-day PnL of one market with the ledger cross-check (seed §8.3)."""

    class FilterSerializer(_DayInput):
        pass

    class OutputSerializer(_PeriodOutput):
        market_id = serializers.CharField()
        scenarios = ScenarioOutput(many=True)
        total_trades = serializers.IntegerField()
        total_volume = serializers.IntegerField()
        realized_pnl_cents = serializers.IntegerField()
        total_fees_cents = serializers.IntegerField()
        trade_cash_flow_cents = serializers.IntegerField(help_text="from the trades: −buys + sells − fees")
        ledger_trade_flow_cents = serializers.IntegerField(allow_null=True, help_text="the same flows in the ledger")
        net_ledger_flow_cents = serializers.IntegerField(allow_null=True, help_text="every ledger entry of the day")
        ledger_matches = serializers.BooleanField(allow_null=True, help_text="null: cross-check disabled")
        ledger_cross_check = serializers.SerializerMethodField()
        ledger = serializers.SerializerMethodField()
        notes = serializers.ListField(child=serializers.CharField())

        @extend_schema_field(serializers.ChoiceField(choices=["MATCH", "MISMATCH", "SKIPPED"]))
        def get_ledger_cross_check(self, report) -> str:
            return {True: "MATCH", False: "MISMATCH", None: "SKIPPED"}[report.ledger_matches]

        @extend_schema_field(LedgerRowOutput(many=True, allow_null=True, help_text="the AMM's ledger entries of "
                                             "the day by type (null: cross-check disabled)"))
        def get_ledger(self, report) -> list[dict] | None:
            if report.ledger is None:
                return None
            rows = [{"entry_type": et, "reference_type": ref, "amount_cents": v}
                    for (et, ref), v in sorted(report.ledger.items())]
            return LedgerRowOutput(rows, many=True).data

    @extend_schema(operation_id="amm_report_pnl", parameters=[FilterSerializer],
                   responses={200: OutputSerializer, **errors(404, 502)})
    def get(self, request, market_id: str):
        filters = query_params(PnlReportApi.FilterSerializer, request)
        with connector_from_settings() as connector:
            report = pnl_report(connector, market_id=market_id, day=filters.get("date"))
        return Response(PnlReportApi.OutputSerializer(report).data)


class MintBurnReportApi(AmmApi):
    """Mint/burn consistency of one market over its whole history (seed §8.4)."""

    class OutputSerializer(Output):
        market_id = serializers.CharField()
        ok = serializers.BooleanField(help_text="every check passed")
        checks = serializers.SerializerMethodField()

        @extend_schema_field(MintBurnCheckOutput(many=True))
        def get_checks(self, result) -> list[dict]:
            rows = [{"name": name, "ok": ok, "detail": detail} for name, ok, detail in result.checks]
            return MintBurnCheckOutput(rows, many=True).data

    @extend_schema(operation_id="amm_report_mintburn", responses={200: OutputSerializer, **errors(404, 502)})
    def get(self, request, market_id: str):
        with connector_from_settings() as connector:
            result = mintburn_report(connector, market_id=market_id)
        return Response(MintBurnReportApi.OutputSerializer(result).data)
