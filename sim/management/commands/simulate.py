"""`python manage.py simulate`: simulated markets with real traders on the reference platform,
the AMM quoting them as in production, ending by itself in a report (sim/simulation.py)."""
from __future__ import annotations

import datetime as dt
import logging
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sim.flow import TraderMix
from sim.scenarios import SCENARIO_ORDER, OracleSpec
from sim.simulation import SimConfig, Simulation, SimulationFailed, parse_duration


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise CommandError(f"--seed: {text!r} is not a comma-separated list of integers") from None
    if not seeds:
        raise CommandError("--seed: give at least one seed")
    return tuple(dict.fromkeys(seeds))


class Command(BaseCommand):
    help = ("Run simulated markets (hidden true probabilities, an oracle feed, noise / informed / stale-quote "
            "traders over the platform API) with the AMM quoting them through run_amm, then write a report with "
            "plots comparing the AMM with a symmetric quoter and an LMSR on the same paths and order flow.")

    def add_arguments(self, parser):
        parser.add_argument("--markets", type=int, default=3,
                            help=f"markets per seed; their scenarios cycle through {', '.join(SCENARIO_ORDER)}")
        parser.add_argument("--seed", default="1", help="seed, or comma-separated seeds (each gets --markets markets)")
        parser.add_argument("--scenarios", default=",".join(SCENARIO_ORDER), help="scenario names to cycle through")
        parser.add_argument("--duration", default="2m", help="simulated length of the window (90, 90s, 10m, 1h)")
        parser.add_argument("--speed", type=float, default=None,
                            help="simulated seconds per wall second (default 1: the AMM's own timing is faithful)")
        parser.add_argument("--wall", default=None, help="wall length instead of --speed (speed = duration / wall)")
        parser.add_argument("--mix", default="", help="trader mix, e.g. noise=0.5,informed=0.12,stale=1 "
                            "(arrivals per market and simulated second; stale=0 turns stale-quote takers off)")
        parser.add_argument("--oracle-interval", type=float, default=1.0, help="simulated seconds between oracle values")
        parser.add_argument("--oracle-delay", type=float, default=2.0, help="oracle lag behind the truth (simulated s)")
        parser.add_argument("--oracle-noise", type=float, default=1.0, help="oracle noise std in cents")
        parser.add_argument("--out", default=None, help="output folder (default .data/sim/<UTC time>)")
        parser.add_argument("--resolve", action="store_true", help="resolve and settle each market by its true outcome")
        parser.add_argument("--amm-workers", type=int, default=2, help="run_amm RQ workers")
        parser.add_argument("--platform-workers", type=int, default=2, help="gunicorn workers")
        parser.add_argument("--budget", type=int, default=None, help="AMM budget per market in cents (default amm_enable's)")
        parser.add_argument("--port", type=int, default=0, help="platform port (default: a free one)")
        parser.add_argument("--oracle-port", type=int, default=0, help="oracle feed port (default: a free one)")
        parser.add_argument("--warmup", type=float, default=None, help="most wall seconds to wait for the AMM to quote every market before the window (default 120)")

    def handle(self, *args, **o):
        try:
            duration = parse_duration(o["duration"])
            if o["wall"] is not None and o["speed"] is not None:
                raise CommandError("give --speed or --wall, not both")
            speed = duration / parse_duration(o["wall"]) if o["wall"] is not None else (o["speed"] or 1.0)
            mix = TraderMix.parse(o["mix"])
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
            out = Path(o["out"]) if o["out"] else Path(settings.BASE_DIR) / ".data" / "sim" / stamp
            config = SimConfig(
                markets=o["markets"], seeds=_seeds(o["seed"]),
                scenarios=tuple(s.strip() for s in o["scenarios"].split(",") if s.strip()),
                duration=duration, speed=speed, mix=mix,
                oracle=OracleSpec(interval=o["oracle_interval"], delay=o["oracle_delay"], noise_cents=o["oracle_noise"]),
                out=out.resolve(), resolve=o["resolve"], amm_workers=o["amm_workers"],
                platform_workers=o["platform_workers"], budget_cents=o["budget"], port=o["port"],
                oracle_port=o["oracle_port"], warmup=o["warmup"],
                command="python manage.py simulate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
                if len(sys.argv) > 1 and sys.argv[1] == "simulate" else "python manage.py simulate",
            )
            config.validate()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        from sim.report import console_table, headline_rows, write_report

        for name in ("amm", "exchange", "matplotlib"):  # their INFO lines would drown the status line
            logging.getLogger(name).setLevel(logging.WARNING)

        tty = self.stdout.isatty()
        width = [0]

        def status(line: str | None) -> None:
            if line is None:
                if tty and width[0]:
                    self.stdout.write("\n", ending="")
                width[0] = 0
                return
            if tty:
                self.stdout.write("\r" + line.ljust(width[0]), ending="")
                width[0] = len(line)
            else:
                self.stdout.write(line)
            self.stdout.flush()

        def say(line: str) -> None:
            status(None)
            self.stdout.write(line)
            self.stdout.flush()

        simulation = Simulation(config, say=say, status=status)
        try:
            result = simulation.run()
            report = write_report(result, config.out)
        except SimulationFailed as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt:
            raise CommandError("interrupted before the simulated window began: no report") from None
        finally:
            simulation.close()
        say(f"\n== report: {report}")
        say(console_table(headline_rows(result)))
        problems = [m["label"] for m in result["markets"] if abs(m["ledger_check"]["difference_cents"]) >= 0.01]
        if result["platform_invariants"] or problems:
            raise CommandError(f"checks failed: invariants {result['platform_invariants']}, ledger {problems}")
