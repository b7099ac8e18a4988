"""The RQ worker class of the AMM: `SimpleWorker` (no fork), chosen for latency.

A forking `rq.Worker` forks a work horse per job: with Django, httpx and redis-py loaded the
fork plus the child's exit cost milliseconds per job, and the child starts with no warm
connections — every cycle would open a new HTTP connection pool, Redis connection and
database connection, and lose the in-process caches (parsed config, the fill LRU). Quote
cycles are short (tens of ms) and frequent, so that overhead sits directly on the
tick-to-quote path. Measured on this 2-core machine with no-op jobs in burst mode
(tests/amm/runtime/test_worker_class.py, `-s` prints it): a bare worker process took
4.0 ms per job as SimpleWorker and 15.2 ms as the forking Worker (from the larger pytest
process: 4.9 vs 41.7 ms) — the fork costs ~11 ms per job before any reconnecting, the
rest (~20 Redis commands per job) is RQ's own bookkeeping, paid by both.

What SimpleWorker gives up is isolation: a job that leaks or crashes takes the worker with
it. Here a crash is contained by design: run_amm respawns dead workers, the market's lease
and job marker expire within a few seconds, and the next tick re-enqueues the cycle.

In a thread (tests run workers as threads) signal handlers cannot be installed and the
SIGALRM death penalty is unavailable: the worker then uses RQ's timer-based penalty.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time

from django.utils.module_loading import import_string
from rq.timeouts import TimerDeathPenalty
from rq.worker import SimpleWorker

from amm.conf import amm_settings
from amm.runtime.unique_jobs import get_queue

log = logging.getLogger(__name__)


_current = threading.local()  # the worker running a job on this thread


class AmmWorker(SimpleWorker):
    def execute_job(self, job, queue):
        _current.worker = self
        try:
            return super().execute_job(job, queue)
        finally:
            _current.worker = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if threading.current_thread() is not threading.main_thread():
            self.death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is threading.main_thread():
            super()._install_signal_handlers()


def stop_requested() -> bool:
    """Was the worker running this thread's job asked to stop after it (a warm shutdown:
    run_amm stopping)? A long job (the feed's window) ends early on it instead of holding the
    shutdown up."""
    worker = getattr(_current, "worker", None)
    return bool(worker is not None and getattr(worker, "_stop_requested", False))


def worker_class():
    return import_string(amm_settings.AMM_WORKER_CLASS)


def make_worker(*, name: str | None = None, worker_cls=None):
    """A worker on the "amm" queue (django_rq's connection)."""
    queue = get_queue()
    cls = worker_cls or worker_class()
    return cls([queue], connection=queue.connection, name=name)


def watch_parent(parent_pid: int, interval_s: float = 0.5) -> threading.Thread:
    """A worker started by run_amm stops (warm: finishes its job) when run_amm is gone."""

    def run() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent_pid:
                log.warning("run_amm (pid %d) is gone: stopping this worker after its job", parent_pid)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    thread = threading.Thread(target=run, name="amm-parent-watch", daemon=True)
    thread.start()
    return thread


PR_SET_PDEATHSIG = 1  # linux/prctl.h
_prctl = None
if sys.platform.startswith("linux"):  # resolved here, not in the forked child (preexec_fn must stay minimal)
    try:
        _prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        _prctl = None


def die_with_parent(sig: int = signal.SIGTERM):
    """A `preexec_fn` for subprocess.Popen: the kernel sends `sig` to the child when the
    process that started it dies, however it dies (SIGKILL included; Linux PR_SET_PDEATHSIG,
    elsewhere nothing). A parent that died between fork and prctl is caught by the ppid check."""
    parent = os.getpid()

    def preexec() -> None:
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
            if os.getppid() != parent:
                os.kill(os.getpid(), sig)

    return preexec
