"""Run simulated traders against a platform over HTTP (the demo's order flow)."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from exchange.services import account_deposit, api_key_issue, user_get_or_create
from sim.traders import Trader, traders_run


class Command(BaseCommand):
    help = "Simulated informed and noise traders trading MARKET_ID through the platform API."

    def add_arguments(self, parser):
        parser.add_argument("market_id")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--traders", type=int, default=4)
        parser.add_argument("--informed", type=int, default=1)
        parser.add_argument("--rate", type=float, default=4.0, help="actions per second")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--duration", type=float, default=None, help="seconds (default: until stopped)")

    def handle(self, *args, market_id, base_url, traders, informed, rate, seed, duration, **options):
        crowd = []
        for i in range(traders):
            user, created = user_get_or_create(username=f"sim_trader_{i}")
            if created:
                account_deposit(user_id=str(user.id), amount_cents=5_000_000, reference="sim")
            crowd.append(Trader(name=user.username, key=api_key_issue(user=user), informed=i < informed))
        self.stdout.write(f"{traders} traders ({informed} informed) on {market_id} at {base_url}, {rate}/s")
        last = [0]

        def report(truth: int, stats) -> None:
            if stats.orders - last[0] >= 20:
                last[0] = stats.orders
                self.stdout.write(f"  truth {truth:2d}c  orders {stats.orders}  fills {stats.fills}  "
                                  f"rejected {stats.rejected}", ending="\n")
                self.stdout.flush()

        stats = traders_run(base=base_url, market_id=market_id, traders=crowd, rate_per_s=rate, seed=seed,
                            duration_s=duration, on_tick=report)
        self.stdout.write(f"done: orders {stats.orders} fills {stats.fills} rejected {stats.rejected}")
