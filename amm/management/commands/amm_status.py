"""`python manage.py amm_status [MARKET_ID ...]` (SPEC §3.7): one line per market —
lifecycle, phase, defense, kill switch, fair price, best quotes, inventory, PnL, last
requote age."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from amm.runtime.status_lines import status_lines


class Command(BaseCommand):
    help = "One status line per AMM market."

    def add_arguments(self, parser):
        parser.add_argument("market_ids", nargs="*", metavar="MARKET_ID")

    def handle(self, *args, **options):
        lines = status_lines(options["market_ids"] or None)
        if not lines:
            self.stdout.write("no AMM market (run amm_enable MARKET_ID)")
        for line in lines:
            self.stdout.write(line)
