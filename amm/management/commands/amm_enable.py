"""`python manage.py amm_enable MARKET_ID [--budget CENTS]` (SPEC §3.7)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from amm.services.instances import instance_enable


class Command(BaseCommand):
    help = "Create the AMM instance and its config (seed defaults) for a market, and write amm:config."

    def add_arguments(self, parser):
        parser.add_argument("market_id")
        parser.add_argument("--budget", type=int, default=None, help="budget in cents (also budget_limit_cents)")

    def handle(self, *args, market_id: str, budget: int | None, **options):
        try:
            instance, created = instance_enable(market_id=market_id, budget_cents=budget, actor="amm_enable")
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        config = instance.config
        verb = "enabled" if created else "already enabled"
        self.stdout.write(
            f"AMM {verb} for {instance.market_id}: lifecycle {instance.lifecycle_state}, "
            f"budget {instance.budget_cents} cents, config version {config.version}"
        )
