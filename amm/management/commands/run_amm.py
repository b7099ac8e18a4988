"""`python manage.py run_amm [--market ID ...] [--workers N]` (SPEC §3.7, §7).

Starts the AMM for the enabled markets (or those named): each instance STOPPED -> STARTING
-> RUNNING through the startup sync (a failed sync -> STOPPED with an alert; a market left
RUNNING/EMERGENCY/WINDING_DOWN by a run that died is adopted; one an operator stopped stays
STOPPED unless named with --market; an operator's later start is picked up within about a
second, amm/runtime/run_loop.py), arms the platform's dead
man's switch, starts N RQ worker subprocesses (`manage.py amm_worker`, respawned when one
dies) and runs the scheduler in this process, printing one status line per market every
few seconds (beyond AMM_STATUS_MAX_LINES markets, a summary and the markets that want
attention). On SIGINT/SIGTERM: stop scheduling, let the workers finish their jobs,
cancel the AMM's orders in every market, disarm the dead man's switch, exit 0.

More workers on other machines join with `python manage.py amm_worker` against the same
Redis and database (or `rqworker amm --worker-class amm.runtime.worker.AmmWorker`).

`--standby` (issue 15, another host): start the workers at once (they serve the active
run's jobs) and take over scheduling when the active run's scheduler lease lapses (it
stopped, died, or lost Redis): no startup sync then, since Redis holds the markets' state;
the cycles cancel and re-sync what an old holder left (amm/runtime/cycle.py) and fencing
tokens refuse its late calls. A standby stopped before it took over cancels nothing.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from amm import state
from amm.conf import amm_settings
from amm.models import AMMInstance
from amm.runtime import deadman_arming
from amm.runtime.context import RuntimeContext, context
from amm.runtime.lease import lease_ttl_ms
from amm.runtime.run_loop import Scheduler
from amm.runtime.startup import (
    market_start,
    markets_shutdown,
    markets_to_start,
    privileged_pending_resolve,
    working_state_check,
)
from amm.runtime.status_lines import status_lines
from amm.runtime.worker import die_with_parent

log = logging.getLogger("amm.run")

MANAGE = Path(settings.BASE_DIR) / "manage.py"


class WorkerPool:
    """N `manage.py amm_worker --parent-pid <us>` children; dead ones are replaced."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.procs: list[subprocess.Popen] = []
        self.spawned = 0

    def _spawn(self) -> subprocess.Popen:
        self.spawned += 1
        args = [sys.executable, str(MANAGE), "amm_worker", "--parent-pid", str(os.getpid()),
                "--name", f"amm-{os.getpid()}-{self.spawned}"]
        # SIGTERM (RQ's warm shutdown) from the kernel if run_amm dies without stopping them
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent(signal.SIGTERM))

    def start(self) -> None:
        if not self.procs:  # a standby started them already
            self.procs = [self._spawn() for _ in range(self.count)]

    def supervise(self) -> list[int]:
        """Replace workers that exited; returns the pids replaced."""
        replaced = []
        for i, proc in enumerate(self.procs):
            if proc.poll() is not None:
                log.warning("worker pid %d exited with %s: starting another", proc.pid, proc.returncode)
                replaced.append(proc.pid)
                self.procs[i] = self._spawn()
        return replaced

    def stop(self, timeout_s: float) -> int:
        """Warm shutdown of every worker; returns how many had to be killed."""
        killed = 0
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # RQ warm shutdown: the current job finishes
        deadline = time.monotonic() + timeout_s
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in time: killed", proc.pid)
                proc.kill()
                proc.wait(timeout=5)
                killed += 1
        return killed


class Command(BaseCommand):
    help = "Run the AMM: start the markets, the scheduler and N RQ workers; Ctrl-C stops it cleanly."

    def add_arguments(self, parser):
        parser.add_argument("--market", action="append", dest="markets", default=[], metavar="ID",
                            help="a market to run (repeatable; default: every enabled market)")
        parser.add_argument("--workers", type=int, default=amm_settings.AMM_WORKERS,
                            help="RQ worker subprocesses to start (one of them mostly runs the fill poller)")
        parser.add_argument("--standby", action="store_true",
                            help="another run_amm schedules: serve its jobs, take over when its lease lapses")
        parser.add_argument("--status-every", type=float, default=amm_settings.AMM_STATUS_PRINT_S,
                            help="seconds between status prints (0: never)")

    def handle(self, *args, **options):
        self._log_to_stdout()
        stop = self._stop_on_signals()
        named = list(dict.fromkeys(options["markets"]))
        markets = self.markets_known = self._markets_named_or_all(named)
        workers = max(1, int(options["workers"]))
        # Without --market the scheduler considers every instance, also ones enabled and
        # started by an operator while this runs.
        scheduler = Scheduler(named or None)
        log.info("run_amm pid %d: %d markets, %d workers, platform %s", os.getpid(), len(markets), workers,
                 amm_settings.AMM_PLATFORM_BASE_URL)
        pool = WorkerPool(workers)
        standby = bool(options["standby"])
        if standby:
            if not self._stand_by(scheduler, pool, stop):
                return None
        elif not scheduler.acquire(wait_ms=lease_ttl_ms() + 2000):
            raise CommandError("another run_amm is scheduling (its lease is held); stop it first, "
                               "or run this one with --standby")
        ctx = context()
        if not standby:
            working_state_check(ctx=ctx, keep=(state.lease_key("scheduler"),))
            privileged_pending_resolve(ctx=ctx)
        thread = None
        try:
            state.run_update(started_ms=state.now_ms(), pid=os.getpid())
            if not standby:
                self._start_markets(markets_to_start(markets, named=named), ctx=ctx, stop=stop)
            if not stop.is_set():
                thread = self._start_quoting(scheduler, pool, ctx, arm_first=not standby)
            self._supervise(pool, named, stop=stop, status_every=float(options["status_every"] or 0))
        finally:
            self._shutdown(scheduler, thread, pool, self._markets(named, default=self.markets_known), ctx)
        return None

    # --- the steps, in order -------------------------------------------------------------------
    @staticmethod
    def _log_to_stdout() -> None:
        """Logs to stdout: one stream for an operator or a harness."""
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stderr, sys.__stderr__):
                handler.setStream(sys.stdout)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per HTTP call drowns the status

    @staticmethod
    def _stop_on_signals() -> threading.Event:
        """SIGINT / SIGTERM set the returned event: the run stops cleanly."""
        stop = threading.Event()

        def on_signal(signum, frame):
            if not stop.is_set():
                log.warning("%s received: stopping", signal.Signals(signum).name)
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        return stop

    @staticmethod
    def _markets_named_or_all(named: list[str]) -> list[str]:
        """The markets named with --market (each must have an AMM instance), else every one."""
        known = set(AMMInstance.objects.values_list("market_id", flat=True))
        missing = [m for m in named if m not in known]
        if missing:
            raise CommandError(f"no AMM instance for {', '.join(missing)} (run amm_enable first)")
        markets = named or sorted(known)
        if not markets:
            raise CommandError("no enabled market (run amm_enable MARKET_ID first)")
        return markets

    @staticmethod
    def _stand_by(scheduler: Scheduler, pool: WorkerPool, stop: threading.Event) -> bool:
        """--standby: the workers serve the active run's jobs at once; wait for its scheduler
        lease. True once this run holds it, False when stopped first (workers stopped)."""
        pool.start()
        log.info("standby: workers %s serve the active run's jobs; scheduling when its lease lapses",
                 [p.pid for p in pool.procs])
        while not stop.is_set():
            if scheduler.acquire(wait_ms=0):
                log.warning("standby: the active run's scheduler lease lapsed: scheduling now")
                return True
            stop.wait(0.1)
            pool.supervise()
        pool.stop(timeout_s=float(amm_settings.AMM_SHUTDOWN_TIMEOUT_S))
        return False

    @staticmethod
    def _start_markets(market_ids: list[str], *, ctx: RuntimeContext, stop: threading.Event) -> None:
        """The startup sync of each market (or its adoption from a run that died), one by one."""
        for market_id in market_ids:
            if stop.is_set():
                break
            log.info("%s: %s", market_id, market_start(market_id, ctx=ctx))

    @staticmethod
    def _start_quoting(scheduler: Scheduler, pool: WorkerPool, ctx: RuntimeContext, *,
                       arm_first: bool = True) -> threading.Thread:
        """Arm the dead man's switch, start the workers, run the scheduler in a thread. A
        standby taking over leaves the arming to the scheduler's own thread (the run it
        replaces kept the switch armed): the markets' ticks start a round trip sooner."""
        scheduler.refresh(time.monotonic())
        try:
            if arm_first:
                deadman_arming.arm(ctx, timeout_ms=scheduler.deadman_timeout_ms, market_ids=list(scheduler.plans))
        except Exception as exc:  # noqa: BLE001 - the scheduler's thread retries; cycles wait for it
            log.warning("dead man's switch: first arm failed: %s", exc)
        pool.start()
        thread = threading.Thread(target=scheduler.run, name="amm-scheduler", daemon=True)
        thread.start()
        log.info("quoting: workers %s", [p.pid for p in pool.procs])
        return thread

    def _supervise(self, pool: WorkerPool, named: list[str], *, stop: threading.Event, status_every: float) -> None:
        """Until stopped: replace dead workers, print the status lines every `status_every` s
        (the markets printed are those the shutdown cancels should the database be gone)."""
        next_status = time.monotonic() + 1.0
        while not stop.is_set():
            stop.wait(0.2)
            pool.supervise()
            if status_every and time.monotonic() >= next_status:
                next_status = time.monotonic() + status_every
                try:
                    self.markets_known = self._markets(named)
                    for line in status_lines(self.markets_known, max_lines=amm_settings.AMM_STATUS_MAX_LINES):
                        self.stdout.write(line)
                    self.stdout.flush()
                except Exception as exc:  # noqa: BLE001 - status is best effort
                    log.warning("status: %s", exc)

    @staticmethod
    def _markets(named: list[str], *, default: list[str] | None = None) -> list[str]:
        """The markets this run answers for: those named, else every instance (now)."""
        if named:
            return named
        try:
            return sorted(AMMInstance.objects.values_list("market_id", flat=True))
        except Exception:  # noqa: BLE001 - the database is gone: what we knew
            if default is None:
                raise
            return default

    def _shutdown(self, scheduler: Scheduler, thread: threading.Thread | None, pool: WorkerPool,
                  markets: list[str], ctx: RuntimeContext) -> None:
        """Stop scheduling, let the workers finish their jobs, cancel every market's orders,
        disarm the dead man's switch (markets_shutdown says when not), print the last status."""
        log.info("stopping: scheduling stops, workers finish their jobs")
        scheduler.stop()
        if thread is not None:
            thread.join(timeout=5)
        killed = pool.stop(timeout_s=float(amm_settings.AMM_SHUTDOWN_TIMEOUT_S))
        markets_shutdown(markets, ctx=ctx, workers_killed=killed)
        try:
            state.run_markets_set([])
            for line in status_lines(markets):
                self.stdout.write(line)
        except Exception:  # noqa: BLE001
            pass
        scheduler.release()
        log.info("run_amm stopped")
