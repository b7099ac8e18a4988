"""`manage.py simulate`: simulated markets with real traders on the reference platform, the
AMM quoting them as in production, ending by itself in a report with baselines.

A run, top to bottom (`Simulation.run`):
1. plan (pure, from the seeds): each market's scenario, true path, oracle feed and trader
   arrivals; written to `inputs.json` before anything starts;
2. the platform's rows: funded trader users, the markets (their trading end on the
   simulated clock), the AMM enabled on each with its oracle pointed at our feed;
3. processes: the platform under gunicorn, the oracle feed (a thread), `run_amm` with its
   RQ workers; a watchdog cleans up whatever outlives us (sim/processes.py);
4. the window: traders act on time over HTTP, a sample per second, a status line per second;
5. stop: traders, (with `--resolve`, each market resolved by its true outcome while the AMM
   winds down, then settled), the AMM (it cancels its orders), the platform;
6. collect and report: the AMM's fills and ledger, invariants, the baselines replayed on the
   same inputs, `report.md` with plots (sim/report.py).

Time: the AMM runs on the wall clock. Simulated time runs `speed` times as fast: the true
paths, the oracle, the traders' arrivals and the markets' trading end are on the simulated
clock compressed onto the wall; the AMM's own intervals (requote 1 s, oracle poll, LVR
cooldown, phase timers) stay wall-clock, so at speed k it reacts k times slower in
simulated time than it would in production. Speed 1 is the faithful setting.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings

from sim.baselines import BASELINES, MarketInputs, QuoteState, lmsr_b_for_depth, replay
from sim.console import operator_login_lines
from sim.flow import KINDS, Arrival, TraderMix, arrivals_for, sequence
from sim.metrics import maker_metrics, summary
from sim.scenarios import SCENARIO_ORDER, SCENARIOS, OraclePath, OracleSpec, TruePath, oracle_path, true_path

MAKERS = ("amm", "symmetric", "lmsr")
TRADER_DEPOSIT_CENTS = 50_000_000


@dataclass(frozen=True)
class SimConfig:
    markets: int = 2  # per seed
    seeds: tuple[int, ...] = (1,)
    scenarios: tuple[str, ...] = SCENARIO_ORDER
    duration: float = 120.0  # simulated seconds
    speed: float = 1.0
    mix: TraderMix = field(default_factory=TraderMix)
    oracle: OracleSpec = field(default_factory=OracleSpec)
    out: Path = Path(".data/sim/latest")
    resolve: bool = False
    amm_workers: int = 2
    platform_workers: int = 2
    budget_cents: int | None = None  # per market; None: amm_enable's default
    dt: float = 0.2
    port: int = 0
    oracle_port: int = 0
    warmup: float | None = None  # most wall seconds to wait for the AMM to quote (default 120)
    maker_fee_bps: int = 0
    taker_fee_bps: int = 20
    command: str = ""

    def validate(self) -> None:
        if self.markets < 1 or not self.seeds:
            raise ValueError("need at least one market and one seed")
        unknown = [s for s in self.scenarios if s not in SCENARIOS]
        if unknown or not self.scenarios:
            raise ValueError(f"unknown scenario(s) {unknown} (known: {', '.join(SCENARIO_ORDER)})")
        if self.duration <= 0 or self.speed <= 0:
            raise ValueError("duration and speed must be positive")
        if self.duration / self.oracle.interval > 1e6 or self.duration / self.dt > 1e6:
            raise ValueError("duration too long for the path grid")

    @property
    def wall_seconds(self) -> float:
        return self.duration / self.speed


@dataclass(frozen=True)
class MarketPlan:
    index: int  # in the run
    seed: int
    slot: int  # among its seed's markets
    scenario: str
    truth: TruePath
    oracle: OraclePath

    @property
    def label(self) -> str:
        return f"s{self.seed}-{self.slot}-{self.scenario}"


def plan(config: SimConfig) -> tuple[list[MarketPlan], list[Arrival]]:
    """Everything the seeds decide: paths, oracle feeds, arrivals (the same for the same
    seeds, scenarios, duration, mix and oracle settings)."""
    config.validate()
    plans, arrivals = [], []
    for seed in config.seeds:
        for slot in range(config.markets):
            scenario = config.scenarios[slot % len(config.scenarios)]
            truth = true_path(scenario=scenario, seed=seed, market=slot, horizon=config.duration, dt=config.dt)
            oracle = oracle_path(truth=truth, spec=config.oracle, seed=seed, market=slot)
            index = len(plans)
            plans.append(MarketPlan(index=index, seed=seed, slot=slot, scenario=scenario, truth=truth, oracle=oracle))
            arrivals += arrivals_for(truth=truth, mix=config.mix, seed=seed, slot=slot, market=index)
    return plans, sequence(arrivals)


def inputs_document(config: SimConfig, plans: list[MarketPlan], arrivals: list[Arrival]) -> dict:
    """The run's inputs as JSON (what determinism is defined on)."""
    return {
        "config": _config_dict(config),
        "markets": [{"index": p.index, "seed": p.seed, "slot": p.slot, "scenario": p.scenario, "label": p.label,
                     "event_time": p.truth.event_time, "outcome": p.truth.outcome, "jump_times": p.truth.jump_times,
                     "dt": p.truth.dt, "truth": list(p.truth.probs),
                     "oracle": list(p.oracle.values)} for p in plans],
        "arrivals": [a.as_dict() for a in arrivals],
    }


def _config_dict(config: SimConfig) -> dict:
    raw = asdict(config)
    try:  # relative where it can be: a committed report names no folder of the machine that made it
        raw["out"] = str(Path(config.out).resolve().relative_to(Path.cwd()))
    except ValueError:
        raw["out"] = str(config.out)
    return {k: v for k, v in raw.items() if k not in ("command",)}


def parse_duration(text: str) -> float:
    """`90`, `90s`, `10m`, `1.5h` -> seconds."""
    text = str(text).strip().lower()
    scale = {"s": 1, "m": 60, "h": 3600}.get(text[-1:], None)
    number = text[:-1] if scale else text
    try:
        value = float(number) * (scale or 1)
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (e.g. 90, 90s, 10m, 1h)") from None
    if value <= 0:
        raise ValueError("a duration must be positive")
    return value


class SimulationFailed(RuntimeError):
    pass


class Simulation:
    def __init__(self, config: SimConfig, *, say, status) -> None:
        self.config = config
        self.say = say  # a line for the operator
        self.status = status  # the per-second status line (may overwrite itself)
        self.children = None
        self.watchdog = None
        self.interrupted: str | None = None
        self.oracle_wired = False
        self._signals: dict = {}

    # --- the run -------------------------------------------------------------------------------
    def run(self) -> dict:
        from django.core.management import call_command

        from exchange.services import system_users_ensure
        from sim.processes import Children, Watchdog, embedded_servers_owned, stop_on_signals

        config = self.config
        self._signals = stop_on_signals()
        out = config.out
        out.mkdir(parents=True, exist_ok=True)
        (out / "logs").mkdir(exist_ok=True)
        plans, arrivals = plan(config)
        _write_json(out / "inputs.json", inputs_document(config, plans, arrivals))
        self.say(f"== {len(plans)} markets ({', '.join(p.label for p in plans)}), {len(arrivals)} trader arrivals; "
                 f"{config.duration:.0f} simulated s at speed {config.speed:g} = {config.wall_seconds:.0f} wall s")
        self.watchdog = Watchdog()
        for name, pid, sig in embedded_servers_owned():
            self.watchdog.tell(f"server {pid} {sig}")
        self.children = Children(self.watchdog)
        try:
            call_command("migrate", interactive=False, verbosity=0)
            system_users_ensure()
            result = self._live(plans, arrivals)
        finally:
            from django.db import connections

            connections.close_all()
        return result

    def close(self) -> None:
        """Last act (after the report): the watchdog stops the embedded servers we started;
        the signal handlers are the caller's again."""
        from django.db import connections

        from sim.processes import restore_signals

        connections.close_all()
        if self.watchdog is not None:
            self.watchdog.close()
        if self._signals:
            restore_signals(self._signals)

    def _live(self, plans: list[MarketPlan], arrivals: list[Arrival]) -> dict:
        from django.db import connections

        from sim.collect import Sampler
        from sim.live import LiveTraders
        from sim.oracle import OracleServer, SimClock
        from sim.processes import database_url, ignore_signals

        config = self.config
        run_tag = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]
        keys, kinds = self._traders()
        amm_key = self._amm_key()
        port = config.port or _free_port()
        base = f"http://127.0.0.1:{port}"
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL,
               "AMM_PLATFORM_BASE_URL": base, "AMM_PLATFORM_API_KEY": amm_key, "PYTHONUNBUFFERED": "1",
               "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(config.platform_workers),
               "GUNICORN_LOG_LEVEL": "warning"}
        env.pop("GUNICORN_ACCESS_LOG", None)
        logs = config.out / "logs"
        traders = oracle = sampler = clock = None
        market_ids: list[str] = []
        resolved = False
        try:
            self.say(f"== platform: gunicorn on {base} (log {logs / 'platform.log'})")
            self.children.spawn("platform", [sys.executable, "-m", "gunicorn", "-c",
                                             str(Path(settings.BASE_DIR) / "ammproject" / "gunicorn.conf.py")],
                                env=env, cwd=settings.BASE_DIR, log_path=logs / "platform.log")
            self._wait_platform(base)
            # the push feeds' relay (docs/push.md): the outbox the platform writes -> Redis streams
            self.say(f"== event relay: exchange_relay (log {logs / 'relay.log'})")
            self.children.spawn("relay", manage + ["exchange_relay"], env=env, cwd=settings.BASE_DIR,
                                log_path=logs / "relay.log")
            self.say(operator_login_lines(base))
            # a provisional clock until the AMM quotes: the window (and each market's trading
            # end) is set once it does, however long a loaded machine takes to start it
            clock = SimClock(t0=time.time() + 3600, speed=config.speed)
            oracle = OracleServer(paths={}, clock=clock, horizon=config.duration, port=config.oracle_port)
            market_ids = self._markets(plans, clock, run_tag, oracle.url_template)
            oracle.paths.update({m: p.oracle for m, p in zip(market_ids, plans)})
            oracle.start()
            reader = ("read by the AMM through its oracle poller" if self.oracle_wired
                      else "NOT read by the AMM: this build has no oracle poller")
            self.say(f"== oracle feed on {oracle.url_template} ({reader})")
            amm_args = manage + ["run_amm", "--workers", str(config.amm_workers)]
            for m in market_ids:
                amm_args += ["--market", m]
            self.say(f"== AMM: run_amm --workers {config.amm_workers} on {len(market_ids)} markets (log {logs / 'run_amm.log'})")
            self.children.spawn("amm", amm_args, env=env, cwd=settings.BASE_DIR, log_path=logs / "run_amm.log")
            sampler = Sampler(market_ids=market_ids, clock=clock, truths=[p.truth for p in plans],
                              oracles=[p.oracle for p in plans])
            clock = self._warm_up(sampler, plans, market_ids)
            oracle.clock = sampler.clock = clock
            traders = LiveTraders(base_url=base, keys=keys, market_ids=market_ids, arrivals=arrivals, clock=clock,
                                  run_tag=run_tag).start()
            self.say(f"== trading for {config.duration:.0f} simulated s ({config.wall_seconds:.0f} wall s); Ctrl-C stops early")
            self._window(clock, sampler, traders, oracle)
        except KeyboardInterrupt as exc:
            self.interrupted = str(exc) or "SIGINT"
            try:
                connections.close_all()  # an interrupted query leaves its connection unusable
            except Exception:  # noqa: BLE001
                pass
        finally:
            ignore_signals()
            self.status(None)
            if traders is not None:
                traders.stop()
            if self.interrupted:
                self.say(f"== interrupted ({self.interrupted}): stopping in order")
            elif config.resolve and market_ids and self.children.exited() == []:
                try:
                    resolved = self._resolve(plans, market_ids)
                except Exception as exc:  # noqa: BLE001 - the processes must be stopped all the same
                    self.say(f"== resolving failed ({exc}): the report marks to the truth instead")
            self.children.stop("amm", timeout_s=40, say=self.say)
            self.children.stop("platform", timeout_s=20, say=self.say)
            self.children.stop("relay", timeout_s=20, say=self.say)  # last: it publishes what the others committed
            if oracle is not None:
                oracle.stop()
        if clock is None or sampler is None or not any(sampler.samples.values()):
            raise SimulationFailed("the run stopped before the simulated window began: no report")
        return self._collect(plans, market_ids, sampler, clock, traders, kinds, oracle, resolved)

    # --- setup ---------------------------------------------------------------------------------
    def _traders(self) -> tuple[dict[tuple[str, int], str], dict[str, str]]:
        from exchange.models import Account
        from exchange.services import account_deposit, api_key_issue, user_get_or_create

        keys, kinds = {}, {}
        for kind, count in zip(KINDS, self.config.mix.traders):
            for i in range(count):
                user, _ = user_get_or_create(username=f"sim_{kind}_{i}")
                available = Account.objects.filter(user_id=str(user.id)).values_list("available_balance", flat=True).first() or 0
                if available < TRADER_DEPOSIT_CENTS // 2:
                    account_deposit(user_id=str(user.id), amount_cents=TRADER_DEPOSIT_CENTS - available, reference="simulate")
                keys[(kind, i)] = api_key_issue(user=user)
                kinds[str(user.id)] = kind
        return keys, kinds

    def _amm_key(self) -> str:
        from exchange.services import api_key_issue, user_get_or_create

        amm_user, _ = user_get_or_create(username="amm_market_maker")
        return api_key_issue(user=amm_user)

    def _markets(self, plans: list[MarketPlan], clock, run_tag: str, oracle_url: str) -> list[str]:
        from amm.constants import AMM_USER_ID
        from amm.models import PARAMETER_NAMES, AMMInstance
        from amm.services.market_config import config_update
        from amm.services.instances import instance_enable
        from exchange.models import Account
        from exchange.services import account_deposit, market_create

        config = self.config
        ids = []
        for p in plans:
            # short: the AMM's client order and mint/burn ids embed the market id, and the
            # platform stores a mint/burn request id in 64 characters
            market_id = f"SIM-{run_tag[-4:]}{run_tag[9:13]}-{p.label}"[:34]
            end = dt.datetime.fromtimestamp(clock.wall(p.truth.event_time), tz=dt.timezone.utc)
            market_create(market_id=market_id, title=f"Simulated market {p.label} ({SCENARIOS[p.scenario].description})",
                          maker_fee_bps=config.maker_fee_bps, taker_fee_bps=config.taker_fee_bps,
                          trading_end_at=end, resolution_date=end)
            instance_enable(market_id=market_id, budget_cents=config.budget_cents, actor="simulate")
            wanted = {"oracle_adapter": "sim", "oracle_url_template": oracle_url, "oracle_poll_interval_ms": 1000}
            changes = {k: v for k, v in wanted.items() if k in PARAMETER_NAMES}
            config_update(market_id=market_id, actor="simulate", **changes)
            ids.append(market_id)
        # the poller exists when the config knows which adapter to use (branch h-oracle)
        self.oracle_wired = "oracle_adapter" in PARAMETER_NAMES
        budgets = sum(AMMInstance.objects.filter(market_id__in=ids).values_list("config__budget_limit_cents", flat=True))
        available = Account.objects.filter(user_id=AMM_USER_ID).values_list("available_balance", flat=True).first() or 0
        if available < budgets:
            account_deposit(user_id=AMM_USER_ID, amount_cents=budgets - available, reference="simulate")
            self.say(f"== funded the AMM with {budgets - available} cents (its budgets total {budgets})")
        return ids

    def _wait_platform(self, base: str, timeout_s: float = 60) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_children()
            try:
                if httpx.get(f"{base}/api/v1/markets", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SimulationFailed(f"the platform did not answer on {base} within {timeout_s:.0f}s")

    def _check_children(self) -> None:
        dead = self.children.exited()
        if dead:
            name, code = dead[0]
            raise SimulationFailed(f"{name} exited with {code}; see {self.config.out / 'logs'}")

    def _warm_up(self, sampler, plans: list[MarketPlan], market_ids: list[str]):
        """Wait until the AMM quotes both sides of every market (at most `warmup` seconds),
        then fix the simulated clock: the window starts 2 s later, and each market's
        trading end moves to its event time on that clock (the AMM reads it from the
        platform within a second)."""
        from exchange.services import market_schedule_set
        from sim.oracle import SimClock

        limit = self.config.warmup if self.config.warmup is not None else 120.0
        started = time.time()
        while True:
            self._check_children()
            rows = _peek(sampler)
            quoting = sum(1 for row in rows.values() if row["amm_bid"] is not None and row["amm_ask"] is not None)
            waited = time.time() - started
            if quoting == len(market_ids) or waited >= limit:
                break
            self.status(f"warming up ({waited:4.0f}s): the AMM quotes both sides in {quoting}/{len(market_ids)} markets")
            time.sleep(0.5)
        self.status(None)
        if quoting < len(market_ids):
            self.say(f"== the AMM quotes both sides in only {quoting}/{len(market_ids)} markets after {limit:.0f}s; "
                     "starting anyway (see logs/run_amm.log)")
        else:
            self.say(f"== the AMM quotes every market after {waited:.0f}s")
        clock = SimClock(t0=time.time() + 2.0, speed=self.config.speed)
        for market_id, p in zip(market_ids, plans):
            end = dt.datetime.fromtimestamp(clock.wall(p.truth.event_time), tz=dt.timezone.utc)
            market_schedule_set(market_id=market_id, trading_end_at=end, resolution_date=end)
        while time.time() < clock.t0:
            time.sleep(0.05)
        return clock

    def _window(self, clock, sampler, traders, oracle) -> None:
        end = clock.wall(self.config.duration)
        next_sample = clock.t0
        while True:
            now = time.time()
            if now >= next_sample:
                rows = sampler.sample(min(now, end))
                self.status(self._status_line(clock, rows, traders, oracle, now))
                next_sample += 1.0
                if next_sample > end and now < end:
                    next_sample = end
            if now >= end:
                if not any(s and s[-1]["t"] >= self.config.duration - 1e-6 for s in sampler.samples.values()):
                    sampler.sample(end)
                break
            self._check_children()
            time.sleep(max(0.0, min(0.2, next_sample - time.time())))
        self.status(None)

    def _status_line(self, clock, rows: dict, traders, oracle, now: float) -> str:
        t = clock.sim_now(now)
        quoting = sum(1 for r in rows.values() if r["amm_bid"] is not None and r["amm_ask"] is not None)
        pnl = sum(r["pnl"] for r in rows.values())
        inventory = sum(abs(r["yes"] - r["no"]) for r in rows.values())
        defense: dict[str, int] = {}
        for r in rows.values():
            defense[r["defense"] or "-"] = defense.get(r["defense"] or "-", 0) + 1
        c = traders.counts()
        reads = sum(oracle.requests.values())
        return (f"sim {t:6.0f}/{self.config.duration:.0f}s | AMM quoting {quoting}/{len(rows)}, PnL@truth "
                f"{pnl / 100:+.2f}$, |net inv| {inventory} | traders {c['orders']} orders, {c['filled']} shares filled, "
                f"{c['rejected']} refused | oracle reads {reads} | defense "
                + " ".join(f"{k}:{v}" for k, v in sorted(defense.items())))

    def _resolve(self, plans: list[MarketPlan], market_ids: list[str]) -> bool:
        """Each market RESOLVED by its true outcome while the AMM still runs (it cancels and
        winds down by itself), then SETTLED (100 cents per winning share)."""
        from amm.models import AMMInstance
        from exchange.services import market_set_status

        self.say("== resolving every market by its true outcome (the AMM winds down), then settling")
        for market_id, p in zip(market_ids, plans):
            market_set_status(market_id=market_id, status="RESOLVED", outcome=p.truth.outcome, actor="simulate")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = set(AMMInstance.objects.filter(market_id__in=market_ids).values_list("lifecycle_state", flat=True))
            if states <= {"STOPPED"}:
                break
            time.sleep(0.5)
        else:
            self.say("== not every market wound down within 30s; settling anyway")
        for market_id in market_ids:
            market_set_status(market_id=market_id, status="SETTLED", actor="simulate")
        return True

    # --- results -------------------------------------------------------------------------------
    def _collect(self, plans, market_ids, sampler, clock, traders, kinds, oracle, resolved) -> dict:
        from amm.models import MarketConfig
        from exchange.models import Market
        from sim.collect import amm_fills, amm_transitions, invariants, ledger_pnl

        config = self.config
        self.say("== collecting the AMM's fills and ledger, replaying the baselines")
        samples = sampler.samples
        fills = amm_fills(market_ids=market_ids, clock=clock, kinds=kinds, samples=samples)
        transitions = amm_transitions(market_ids)
        checks = invariants(market_ids, samples)
        configs = {c.instance.market_id: c for c in MarketConfig.objects.select_related("instance")
                   .filter(instance__market_id__in=market_ids)}
        fees = dict(Market.objects.filter(id__in=market_ids).values_list("id", "maker_fee_bps"))
        ended_at = max((s[-1]["t"] for s in samples.values() if s), default=0.0)
        horizon = min(config.duration, ended_at)
        markets = []
        for market_id, p in zip(market_ids, plans):
            rows = [s for s in samples[market_id] if 0 <= s["t"] <= config.duration + 1e-6]
            times = [s["t"] for s in rows]
            value = p.truth.cents(horizon)
            cfg = configs[market_id]
            arrivals_here = [a for a in _arrivals(traders) if a.market == p.index and a.t <= horizon]
            inputs = baseline_inputs(p.truth, rows, cfg, fees.get(market_id, 0), arrivals_here)
            amm_quotes = [QuoteState(t=s["t"], bid=s["amm_bid"], ask=s["amm_ask"], bid_size=s["amm_bid_size"],
                                     ask_size=s["amm_ask_size"]) for s in rows]
            makers = {"amm": maker_metrics(fills=fills[market_id], quotes=amm_quotes, truth=p.truth,
                                           final_value=value, times=times)}
            curves_fills = {"amm": fills[market_id]}
            params = {}
            for name, cls in BASELINES.items():
                run = replay(cls, inputs)
                makers[name] = maker_metrics(fills=run.fills, quotes=run.quotes, truth=p.truth, final_value=value,
                                             times=times)
                curves_fills[name] = run.fills
                params[name] = run.params
            settled_value = (100.0 if p.truth.outcome == "YES" else 0.0) if resolved else None
            if resolved:
                fill_pnl = sum(f.d * f.qty * (settled_value - f.price) - f.fee for f in fills[market_id])
                ledger = ledger_pnl(market_id, 0.0)
            else:
                fill_pnl = makers["amm"]["pnl_cents"]
                ledger = ledger_pnl(market_id, value)
            markets.append({
                "market_id": market_id, "label": p.label, "seed": p.seed, "slot": p.slot, "scenario": p.scenario,
                "truth_start": round(p.truth.cents(0), 2), "truth_end": round(value, 2), "outcome": p.truth.outcome,
                "makers": makers, "baseline_params": params,
                "ledger_check": {"value_cents": settled_value if resolved else value, "settled": resolved,
                                 "ledger_pnl_cents": round(ledger, 4), "fill_pnl_cents": round(fill_pnl, 4),
                                 "difference_cents": round(ledger - fill_pnl, 6)},
                "settled_pnl_cents": fill_pnl if resolved else None,
                "transitions": transitions[market_id],
                "invariants": checks["markets"][market_id],
                "oracle_reads": oracle.requests.get(market_id, 0) if oracle else 0,
                "amm_saw_oracle": any(s["amm_oracle"] is not None for s in rows),
                "config": {k: getattr(cfg, k) for k in ("base_spread_cents", "order_levels", "level_spacing_cents",
                                                       "order_size", "position_limit", "budget_limit_cents")},
                "_fills": curves_fills, "_rows": rows, "_plan": p,
            })
        result = {
            "command": config.command, "config": _config_dict(config), "market_ids": market_ids,
            "interrupted": self.interrupted, "horizon": horizon, "resolved": resolved,
            "oracle_wired": self.oracle_wired,
            "platform_invariants": checks["platform"], "markets": markets,
            "aggregate": aggregate(markets, config.seeds),
            "traders": {**(traders.counts() if traders else {}), **arrival_lag(traders)},
            "started_at": dt.datetime.fromtimestamp(clock.t0, tz=dt.timezone.utc).isoformat(timespec="seconds"),
        }
        _write_json(config.out / "samples.json", {m: sampler.samples[m] for m in market_ids})
        _write_json(config.out / "executions.json", [e.as_dict() for e in (traders.executions if traders else [])])
        _write_json(config.out / "fills.json", {m["market_id"]: {k: [asdict(f) for f in v] for k, v in m["_fills"].items()}
                                                for m in markets})
        _write_json(config.out / "results.json", public(result))
        return result


def arrival_lag(traders) -> dict:
    """How late the live traders acted against their planned times (simulated seconds): a
    loaded machine delays them, and the report says by how much."""
    if traders is None:
        return {}
    planned = {a.seq: a.t for a in traders.arrivals}
    lags = sorted(e.sent_sim_t - planned[e.seq] for e in traders.executions if e.seq in planned)
    if not lags:
        return {}
    return {"lag_median_s": lags[len(lags) // 2], "lag_p95_s": lags[int(0.95 * (len(lags) - 1))], "lag_max_s": lags[-1]}


def _arrivals(traders) -> list[Arrival]:
    return list(traders.arrivals) if traders is not None else []


def _peek(sampler) -> dict:
    """A sample that is not recorded (warm-up progress)."""
    return sampler.sample(time.time(), record=False)


def baseline_inputs(truth: TruePath, rows: list[dict], cfg, maker_fee_bps: int, arrivals: list[Arrival]) -> MarketInputs:
    """The replay's inputs: the live run's sample times and AMM fair prices, its median
    spread and size at the touch (the config's when it never quoted both sides)."""
    both = [s for s in rows if s["amm_bid"] is not None and s["amm_ask"] is not None]
    spreads = sorted(s["amm_ask"] - s["amm_bid"] for s in both)
    sizes = sorted((s["amm_bid_size"] + s["amm_ask_size"]) / 2 for s in both)
    spread = max(1, int(round(spreads[len(spreads) // 2]))) if spreads else int(cfg.base_spread_cents)
    size = max(1, int(round(sizes[len(sizes) // 2]))) if sizes else int(cfg.order_size)
    fair0 = next((s["fair"] for s in rows if s["fair"] is not None), None)
    return MarketInputs(
        truth=truth, arrivals=tuple(arrivals), quote_times=tuple(s["t"] for s in rows),
        fair=tuple(s["fair"] for s in rows), spread=spread, size=size, levels=int(cfg.order_levels),
        spacing=int(cfg.level_spacing_cents), position_limit=int(cfg.position_limit), maker_fee_bps=int(maker_fee_bps),
        lmsr_b=lmsr_b_for_depth(size), lmsr_p0=fair0 if fair0 is not None else 50.0,
    )


def replay_recorded(out: Path) -> dict[str, dict[str, dict]]:
    """The baselines' figures again from a finished run's files alone (inputs.json,
    samples.json, results.json): market id -> maker -> metrics, equal to the report's (the
    replay reads no clock and no random source)."""
    from types import SimpleNamespace

    inputs = json.loads((out / "inputs.json").read_text())
    samples = json.loads((out / "samples.json").read_text())
    result = json.loads((out / "results.json").read_text())
    duration, horizon = result["config"]["duration"], result["horizon"]
    arrivals = [Arrival.from_dict(a) for a in inputs["arrivals"]]
    figures = {}
    for m, planned in zip(result["markets"], inputs["markets"]):
        truth = TruePath(scenario=planned["scenario"], dt=planned["dt"], horizon=duration,
                         event_time=planned["event_time"], probs=tuple(planned["truth"]),
                         jump_times=tuple(planned["jump_times"]), outcome=planned["outcome"])
        rows = [s for s in samples[m["market_id"]] if 0 <= s["t"] <= duration + 1e-6]
        here = [a for a in arrivals if a.market == planned["index"] and a.t <= horizon]
        inputs_m = baseline_inputs(truth, rows, SimpleNamespace(**m["config"]), result["config"]["maker_fee_bps"], here)
        times = [s["t"] for s in rows]
        figures[m["market_id"]] = {}
        for name, cls in BASELINES.items():
            run = replay(cls, inputs_m)
            figures[m["market_id"]][name] = maker_metrics(fills=run.fills, quotes=run.quotes, truth=truth,
                                                          final_value=truth.cents(horizon), times=times)
    return figures


def aggregate(markets: list[dict], seeds) -> dict:
    """Per maker: per-market mean and std, per-seed totals' mean and std, worst cases."""
    out = {}
    for maker in MAKERS:
        rows = [m["makers"][maker] for m in markets]
        pnl = [r["pnl_cents"] for r in rows]
        per_seed = [sum(m["makers"][maker]["pnl_cents"] for m in markets if m["seed"] == s) for s in seeds]
        uptimes = [r["uptime"] for r in rows]
        mean, std = summary(pnl)
        seed_mean, seed_std = summary(per_seed)
        out[maker] = {
            "markets": len(rows), "pnl_mean_cents": mean, "pnl_std_cents": std, "pnl_total_cents": sum(pnl),
            "pnl_per_seed_mean_cents": seed_mean, "pnl_per_seed_std_cents": seed_std,
            "worst_drawdown_cents": max((r["max_drawdown_cents"] for r in rows), default=0.0),
            "mean_drawdown_cents": summary([r["max_drawdown_cents"] for r in rows])[0],
            "inventory_variance_mean": summary([r["inventory_variance"] for r in rows])[0],
            "uptime_mean": summary(uptimes)[0],
            "loss_to_informed_mean_cents": summary([r["loss_to_informed_cents"] for r in rows])[0],
            "fills": sum(r["fills"] for r in rows), "volume": sum(r["volume"] for r in rows),
            "spread_capture_cents": sum(r["spread_capture_cents"] for r in rows),
            "adverse_selection_cents": sum(r["adverse_selection_cents"] for r in rows),
            "inventory_pnl_cents": sum(r["inventory_pnl_cents"] for r in rows),
            "fees_cents": sum(r["fees_cents"] for r in rows),
            "by_scenario": {sc: summary([m["makers"][maker]["pnl_cents"] for m in markets if m["scenario"] == sc])[0]
                            for sc in dict.fromkeys(m["scenario"] for m in markets)},
        }
    return out


def public(result: dict) -> dict:
    """The result without the in-memory parts (fills, samples, plans), for results.json."""
    copy = dict(result)
    copy["markets"] = [{k: v for k, v in m.items() if not k.startswith("_")} for m in result["markets"]]
    return copy


def _write_json(path: Path, document) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=1, default=str))
    tmp.replace(path)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

