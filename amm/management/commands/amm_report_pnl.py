"""`python manage.py amm_report_pnl MARKET_ID [--date YYYY-MM-DD]` — seed §8.3."""
from __future__ import annotations

from django.core.management.base import CommandError

from amm.management.commands._amm_report import ReportCommand, table
from amm.services.audit import pnl_report


class Command(ReportCommand):
    help = "End-of-day PnL of one market with the ledger cross-check (seed §8.3); exits 1 on a mismatch."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("market_id")
        parser.add_argument("--date", default=None, help="day in TIME_ZONE (default: today)")

    def handle(self, *args, **options):
        with self.connector(options) as connector:
            r = self.run(pnl_report, connector, market_id=options["market_id"], day=self.parse_day(options["date"]))
        self.stdout.write(f"AMM end-of-day PnL {r.market_id} {r.start:%Y-%m-%d} ({r.start.tzinfo})")
        counts = {s.scenario: s.trade_count for s in r.scenarios}
        rows = [
            ("total_trades", r.total_trades), ("total_volume", r.total_volume),
            ("mint_count", counts.get("MINT", 0)), ("transfer_yes_count", counts.get("TRANSFER_YES", 0)),
            ("transfer_no_count", counts.get("TRANSFER_NO", 0)), ("burn_count", counts.get("BURN", 0)),
            ("realized_pnl_cents", r.realized_pnl_cents), ("total_fees_cents", r.total_fees_cents),
            ("trade_cash_flow_cents", r.trade_cash_flow_cents),
            ("ledger_trade_flow_cents", "-" if r.ledger_trade_flow_cents is None else r.ledger_trade_flow_cents),
            ("net_ledger_flow", "-" if r.net_ledger_flow_cents is None else r.net_ledger_flow_cents),
            ("ledger_cross_check", {True: "MATCH", False: "MISMATCH", None: "SKIPPED"}[r.ledger_matches]),
        ]
        self.stdout.write(table(("figure", "value"), rows))
        if r.ledger:
            self.stdout.write("")
            self.stdout.write(table(("entry_type", "reference_type", "amount"),
                                    [(et, ref, v) for (et, ref), v in sorted(r.ledger.items())]))
        for note in r.notes:
            self.stdout.write(f"note: {note}")
        if r.ledger_matches is False:
            raise CommandError("ledger cross-check MISMATCH: trades and ledger disagree")
