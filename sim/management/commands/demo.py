"""The main job: migrate, seed a demo market and users, serve the platform in production form."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from exchange.models import Market
from exchange.services import account_deposit, api_key_issue, market_create, user_get_or_create

DEMO_MARKET = "MKT-BTC-100K-2026"
DEMO_TRADERS = ("alice", "bob")
AMM_USER_ID = settings.AMM_USER_ID


class Command(BaseCommand):
    help = "Set up and run the demo: platform (gunicorn) with a seeded market and funded users."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--no-serve", action="store_true", help="seed and exit")

    def handle(self, *args, bind, workers, no_serve, **options):
        self.stdout.write("== migrating")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(f"== database: {settings.DATABASES['default']['HOST'] or 'local'} / redis: {settings.REDIS_URL}")
        if not Market.objects.filter(pk=DEMO_MARKET).exists():
            market_create(market_id=DEMO_MARKET, title="Will BTC close above $100k in 2026?", maker_fee_bps=0,
                          taker_fee_bps=20)
            self.stdout.write(f"== created market {DEMO_MARKET}")
        keys = {}
        for name in DEMO_TRADERS:
            user, created = user_get_or_create(username=name)
            if created:
                account_deposit(user_id=str(user.id), amount_cents=1_000_000, reference="demo")
            keys[name] = api_key_issue(user=user)
        amm_user, _ = user_get_or_create(username="amm_market_maker")
        keys["amm_market_maker"] = api_key_issue(user=amm_user)
        for name, key in keys.items():
            self.stdout.write(f"   API key {name:<17} {key}")
        if no_serve:
            return
        base = f"http://{bind}"
        self.stdout.write(f"== serving the platform on {base} (gunicorn, {workers} workers); Ctrl-C stops")
        self.stdout.write(f"   try: curl -H 'Authorization: Token {keys['alice']}' {base}/api/v1/account/balance")
        env = {**os.environ, "DATABASE_URL": settings.DATABASE_URL, "REDIS_URL": settings.REDIS_URL}
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "ammproject.wsgi", "--bind", bind, "--workers", str(workers)],
            env=env, cwd=settings.BASE_DIR,
        )
        try:
            server.wait()
        except KeyboardInterrupt:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
