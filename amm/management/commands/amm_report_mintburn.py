"""`python manage.py amm_report_mintburn MARKET_ID` — seed §8.4."""
from __future__ import annotations

from django.core.management.base import CommandError

from amm.management.commands._amm_report import ReportCommand, table
from amm.services.audit import mintburn_report


class Command(ReportCommand):
    help = "Mint/burn consistency of one market (seed §8.4); exits 1 when a check fails."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("market_id")

    def handle(self, *args, **options):
        with self.connector(options) as connector:
            result = self.run(mintburn_report, connector, market_id=options["market_id"])
        self.stdout.write(f"AMM mint/burn consistency {result.market_id}")
        self.stdout.write(table(("check", "result", "detail"),
                                [(name, "OK" if ok else "FAIL", detail) for name, ok, detail in result.checks]))
        if not result.ok:
            raise CommandError("mint/burn consistency check failed")
