"""`manage.py run_amm` as an operator runs it (issue 6, SPEC §3.7): a subprocess with N
worker subprocesses, quoting the platform served by this test (live_server), printing a
status line per market; SIGTERM cancels the AMM's orders, disarms the dead man's switch
and exits 0."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from amm.constants import AMM_USER_ID
from tests.amm.runtime.support import _stop_deadman_sweeper, rt, subprocess_database_url, wait_until  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]


def test_run_amm_quotes_prints_status_and_stops_cleanly_on_sigterm(rt):
    from exchange.models import CancelAllAfter

    env = {**os.environ, "DATABASE_URL": subprocess_database_url(), "REDIS_URL": settings.REDIS_URL,
           "AMM_PLATFORM_BASE_URL": rt.url, "AMM_PLATFORM_API_KEY": rt.amm_key, "AMM_PLATFORM_KEEPALIVE": "false",
           "AMM_STATUS_PRINT_S": "1", "PYTHONUNBUFFERED": "1", "DEBUG": "false"}
    log = tempfile.NamedTemporaryFile(prefix="run_amm-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "run_amm", "--market", rt.market_id,
                             "--workers", "2"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    output = lambda: Path(log.name).read_text(errors="replace")  # noqa: E731
    try:
        wait_until(lambda: proc.poll() is None and rt.quoting(), timeout=40, message="run_amm quoting")
        workers = [c for c in psutil.Process(proc.pid).children() if c.status() != psutil.STATUS_ZOMBIE]
        assert len(workers) == 2, workers
        assert CancelAllAfter.objects.filter(user_id=AMM_USER_ID).exists(), "the dead man's switch is not armed"
        wait_until(lambda: any(rt.market_id in line and "RUNNING" in line and "requote" in line
                               for line in output().splitlines()), timeout=10, message="a status line")
        assert rt.instance().lifecycle_state == "RUNNING"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, output()[-3000:]
        assert rt.open_orders() == {} and rt.tracked() == {}
        assert not CancelAllAfter.objects.filter(user_id=AMM_USER_ID).exists(), "switch left armed"
        assert rt.instance().lifecycle_state == "STOPPED"
        assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        Path(log.name).unlink(missing_ok=True)
