"""`python manage.py amm_report_daily [--market ID] [--date YYYY-MM-DD]` — seed §2.4."""
from __future__ import annotations

from amm.management.commands._amm_report import ReportCommand, table
from amm.services.audit import daily_report


class Command(ReportCommand):
    help = "The AMM's trades of a day by scenario: count, quantity, fees paid, realized PnL (seed §2.4)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--market", default=None, help="one market (default: all)")
        parser.add_argument("--date", default=None, help="day in TIME_ZONE (default: today)")

    def handle(self, *args, **options):
        day = self.parse_day(options["date"])
        with self.connector(options) as connector:
            report = self.run(daily_report, connector, market_id=options["market"], day=day)
        rows = [(s.scenario, s.trade_count, s.total_quantity, s.fees_paid_cents, s.realized_pnl_cents,
                 s.cash_flow_cents) for s in [*report.scenarios, report.total]]
        self.stdout.write(f"AMM daily trades {options['market'] or 'all markets'} {report.start:%Y-%m-%d} "
                          f"({report.start.tzinfo})")
        self.stdout.write(table(("scenario", "trades", "quantity", "fees_paid", "realized_pnl", "cash_flow"), rows))
