"""The live demo (`make demo-live`): the platform, simulated traders and the AMM, running until Ctrl-C.

1. migrate; seed a demo market, funded traders, and fund the AMM's platform account;
2. enable the AMM on the market (`amm_enable`); make the operator's console login
   (AMM_DEMO_OPERATOR_USERNAME / _PASSWORD, else a password generated for this run, printed);
3. serve the platform in production form (gunicorn), with its event relay (`exchange_relay`);
4. run the AMM (`run_amm`) against it over HTTP, and the simulated traders (`sim_traders`);
5. on Ctrl-C (or after --duration): stop the AMM first (it cancels its orders), then the
   traders, then the platform, then the relay, and print the invariant check.
"""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from amm.constants import AMM_USER_ID
from exchange.invariants import invariants_check
from exchange.models import Market
from exchange.services import account_deposit, api_key_issue, market_create, system_users_ensure, user_get_or_create
from sim.console import operator_login_lines
from sim.processes import Watchdog, die_with_parent, embedded_servers_owned, ignore_signals, stop_on_signals

DEMO_MARKET = "MKT-BTC-100K-2026"
AMM_FUNDING_CENTS = 1_000_000


class Command(BaseCommand):
    help = "Run the live demo until Ctrl-C: platform (gunicorn) + simulated traders + the AMM, on the embedded default."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
        parser.add_argument("--amm-workers", type=int, default=2, help="run_amm RQ workers (one runs the fill feed)")
        parser.add_argument("--traders", type=int, default=4)
        parser.add_argument("--rate", type=float, default=4.0, help="trader actions per second")
        parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
        parser.add_argument("--no-serve", action="store_true", help="seed and exit")

    def handle(self, *args, bind, workers, amm_workers, traders, rate, duration, no_serve, **options):
        say = self.stdout.write
        say("== migrating")
        call_command("migrate", interactive=False, verbosity=0)
        system_users_ensure()
        say(f"== database {settings.DATABASES['default']['NAME']} / redis {settings.REDIS_URL}")
        if not Market.objects.filter(pk=DEMO_MARKET).exists():
            market_create(market_id=DEMO_MARKET, title="Will BTC close above $100k in 2026?", taker_fee_bps=20)
            account_deposit(user_id=AMM_USER_ID, amount_cents=AMM_FUNDING_CENTS, reference="demo")
            say(f"== created market {DEMO_MARKET}; funded the AMM with {AMM_FUNDING_CENTS} cents")
        amm_user, _ = user_get_or_create(username="amm_market_maker")
        amm_key = api_key_issue(user=amm_user)
        call_command("amm_enable", DEMO_MARKET, "--budget", str(AMM_FUNDING_CENTS // 2), stdout=io.StringIO())
        operator_lines = operator_login_lines(f"http://{bind}")
        if no_serve:
            say(operator_lines)
            say("== seeded; not serving (--no-serve)")
            return

        base = f"http://{bind}"
        logs = Path(settings.BASE_DIR) / ".data" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DATABASE_URL": settings.DATABASE_URL, "REDIS_URL": settings.REDIS_URL,
               "AMM_PLATFORM_BASE_URL": base, "AMM_PLATFORM_API_KEY": amm_key, "PYTHONUNBUFFERED": "1"}
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        procs: list[tuple[str, subprocess.Popen]] = []
        # nothing we start outlives us: children die with us (PR_SET_PDEATHSIG), the watchdog
        # cleans up their groups and the embedded servers we started; SIGTERM/SIGHUP = Ctrl-C
        watchdog = Watchdog()
        for _, pid, sig in embedded_servers_owned():
            watchdog.tell(f"server {pid} {sig}")
        stop_on_signals()

        def start(name: str, argv: list[str], to_log: bool) -> subprocess.Popen:
            out = open(logs / f"{name}.log", "w") if to_log else None
            proc = subprocess.Popen(argv, env=env, cwd=settings.BASE_DIR, stdout=out, stderr=subprocess.STDOUT
                                    if to_log else None, start_new_session=True, preexec_fn=die_with_parent())
            watchdog.tell(f"group {proc.pid}")
            procs.append((name, proc))
            return proc

        say(f"== platform on {base} (gunicorn, {workers} workers; log {logs / 'platform.log'})")
        start("platform", [sys.executable, "-m", "gunicorn", "ammproject.wsgi", "--bind", bind,
                           "--workers", str(workers)], to_log=True)
        self._wait_for(base)
        say(f"== event relay: exchange_relay, the platform's outbox -> Redis streams (log {logs / 'relay.log'})")
        start("relay", manage + ["exchange_relay"], to_log=True)
        say(f"== AMM: run_amm --market {DEMO_MARKET} --workers {amm_workers} (its status lines follow)")
        start("amm", manage + ["run_amm", "--market", DEMO_MARKET, "--workers", str(amm_workers)], to_log=False)
        time.sleep(2)
        say(f"== {traders} simulated traders at {rate}/s (log {logs / 'traders.log'}); Ctrl-C stops everything")
        start("traders", manage + ["sim_traders", DEMO_MARKET, "--base-url", base, "--traders", str(traders),
                                   "--rate", str(rate)], to_log=True)
        say(operator_lines)
        try:
            deadline = None if duration is None else time.monotonic() + duration
            while deadline is None or time.monotonic() < deadline:
                for name, proc in procs:
                    if proc.poll() is not None:
                        raise RuntimeError(f"{name} exited with {proc.returncode}; see {logs}")
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            ignore_signals()
            self._stop(procs, say)
        violations = invariants_check()
        say("== invariants: " + ("all hold" if not violations else "; ".join(violations)))
        watchdog.close()

    def _wait_for(self, base: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/api/v1/schema/", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"the platform did not answer on {base}")

    def _stop(self, procs, say) -> None:
        # The AMM first: it cancels its orders while the platform is still there to answer.
        for name in ("amm", "traders", "platform", "relay"):
            for proc_name, proc in procs:
                if proc_name == name and proc.poll() is None:
                    say(f"== stopping {name}")
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
