"""`manage.py simulate` end to end: the platform under gunicorn, `run_amm` with its RQ workers,
traders over HTTP, a report at the end (slow: each test runs the whole system for a few
simulated seconds)."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from django.core.management import call_command

from sim.simulation import replay_recorded

ROOT = Path(__file__).resolve().parents[2]
AMM_USER_ID = "00000000-0000-4000-a000-000000000001"
# One worker runs both, one after the other: each is a whole system on a 2-core machine.
ONE_WORKER = pytest.mark.xdist_group("sim_e2e")
SECTIONS = ("## Headline", "## PnL by scenario", "## The AMM per market", "## Baselines per market",
            "## The AMM's defense and phase changes", "## Invariants at the end", "## Plots", "## Method", "## Limits")


def _valid_png(path: Path) -> tuple[int, ...]:
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    return matplotlib.image.imread(path).shape


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@ONE_WORKER
def test_a_run_ends_in_a_report_whose_pnl_is_the_ledgers(tmp_path, redis_conn):
    from exchange.invariants import invariants_check
    from exchange.models import LedgerEntry, Position, Trade

    out = tmp_path / "run"
    call_command("simulate", "--markets", "2", "--scenarios", "resolution,news", "--duration", "10", "--seed", "11",
                 "--resolve", "--out", str(out), stdout=io.StringIO())

    report = (out / "report.md").read_text()
    for section in SECTIONS:
        assert section in report, section
    for maker in ("AMM (live)", "symmetric quoter", "LMSR"):
        assert maker in report.split("## PnL by scenario")[0]  # the headline table compares all three
    result = json.loads((out / "results.json").read_text())
    assert len(result["markets"]) == 2 and result["resolved"] and not result["interrupted"]
    for png in ["summary.png"] + [f"{m['label']}.png" for m in result["markets"]]:
        height, width, _ = _valid_png(out / "plots" / png)
        assert height > 200 and width > 400
        assert f"plots/{png}" in report

    fills = 0
    for m in result["markets"]:
        market_id, amm = m["market_id"], m["makers"]["amm"]
        # every market settled: the AMM holds nothing, and its PnL is the cash its ledger moved
        pos = Position.objects.filter(user_id=AMM_USER_ID, market_id=market_id).first()
        assert pos is None or (pos.yes_volume, pos.no_volume) == (0, 0)
        cash = sum(LedgerEntry.objects.filter(user_id=AMM_USER_ID, market_id=market_id).values_list("amount", flat=True))
        assert m["settled_pnl_cents"] == pytest.approx(cash, abs=1e-6)
        if m["scenario"] == "resolution":  # the truth ended at the outcome: marked and settled PnL agree
            assert m["truth_end"] in (0.0, 100.0)
            assert amm["pnl_cents"] == pytest.approx(cash, abs=1e-6)
        assert amm["pnl_cents"] == pytest.approx(amm["spread_capture_cents"] + amm["adverse_selection_cents"]
                                                 + amm["inventory_pnl_cents"] + amm["fees_cents"], abs=1e-6)
        legs = (Trade.objects.filter(market_id=market_id, buy_user_id=AMM_USER_ID).count()
                + Trade.objects.filter(market_id=market_id, sell_user_id=AMM_USER_ID).count())
        assert amm["fills"] == legs
        fills += legs
        assert all(m["invariants"][k] for k in ("A1_ok", "A2_ok", "A3_ok")), m["invariants"]
    assert fills > 0, "the traders should have traded with the AMM"
    # the event relay ran beside the platform: every event the run committed reached the streams
    from exchange.events.outbox import STREAMS
    from exchange.models import OutboxEvent
    from tests.push_fixtures import event_ids

    committed = set(OutboxEvent.objects.filter(market_id__in=[m["market_id"] for m in result["markets"]])
                    .values_list("id", flat=True))
    assert committed and committed <= event_ids(redis_conn, *STREAMS)
    # the baselines again from the run's files alone: the report's figures, to the last digit
    again = replay_recorded(out)
    for m in result["markets"]:
        for maker in ("symmetric", "lmsr"):
            assert again[m["market_id"]][maker] == m["makers"][maker]
    assert result["platform_invariants"] == [] and invariants_check() == []


# --- whatever ends it, nothing it started outlives it --------------------------------------------
def _embedded_env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return {**env, "AMM_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}


def _start(data: Path, out: Path, log: Path) -> subprocess.Popen:
    args = [sys.executable, str(ROOT / "manage.py"), "simulate", "--markets", "1", "--scenarios", "news",
            "--duration", "6", "--seed", "5", "--out", str(out)]
    return subprocess.Popen(args, cwd=ROOT, env=_embedded_env(data), stdout=open(log, "w"), stderr=subprocess.STDOUT)


def _tree(proc: subprocess.Popen) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _runs(proc: subprocess.Popen, name: str) -> bool:
    """A descendant of `proc` runs `name` (one exiting meanwhile is skipped)."""
    for pid in _tree(proc):
        try:
            if name in " ".join(psutil.Process(pid).cmdline()):
                return True
        except psutil.Error:
            continue
    return False


def _server_pids(data: Path) -> list[int]:
    pids = []
    for path, first_line in ((data / "pg" / "postmaster.pid", True), (data / "redis" / "redis.pid", False)):
        try:
            text = path.read_text()
        except OSError:
            continue
        pids.append(int(text.splitlines()[0] if first_line else text.strip()))
    return pids


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait(predicate, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def _gone_within(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


@pytest.mark.slow
@ONE_WORKER
def test_a_sigkilled_simulator_leaves_nothing_and_the_next_run_starts_and_stops_cleanly(tmp_path):
    data = tmp_path / "data"
    first, second = tmp_path / "run1", tmp_path / "run2"
    log1, log2 = tmp_path / "run1.log", tmp_path / "run2.log"
    procs = []
    try:
        # 1. the embedded PostgreSQL and Redis, gunicorn, run_amm and its workers are up; SIGKILL
        proc = _start(data, first, log1)
        procs.append(proc)
        _wait(lambda: _runs(proc, "amm_worker"), 150, "run_amm's workers", log1)
        pids = _tree(proc) + _server_pids(data)
        assert len(_server_pids(data)) == 2 and len(pids) >= 8  # servers, watchdog, gunicorn ×3, run_amm ×3
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert _gone_within(pids, timeout=25) == []

        # 2. a second start works: it trades, and a SIGTERM stops it in order, with a report
        proc = _start(data, second, log2)
        procs.append(proc)
        _wait(lambda: "== trading for" in log2.read_text(), 150, "the window", log2)
        pids = _tree(proc) + _server_pids(data)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, log2.read_text()[-3000:]
        assert "interrupted" in (second / "report.md").read_text()
        assert _gone_within(pids, timeout=25) == []

        # 3. the same seed gave both runs the same paths and the same trader arrivals
        a, b = (json.loads((run / "inputs.json").read_text()) for run in (first, second))
        assert a["markets"] == b["markets"] and a["arrivals"] == b["arrivals"] and a["arrivals"]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
