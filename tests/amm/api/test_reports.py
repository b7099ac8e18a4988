"""The audit reports as endpoints give the same figures as the amm_report_* commands, against
the live platform (seed §2.4, §8.3, §8.4)."""
from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from exchange.models import LedgerEntry
from tests.amm.api.conftest import BASE
from tests.amm.live.conftest import order
from tests.amm.runtime.harness import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def traded(platform):
    """A day of AMM activity: a mint and a burn, a TRANSFER_YES and a MINT trade."""
    m = platform.market_id
    with platform.connector() as c:
        c.amm_mint(market_id=m, quantity=30, request_id="mint-a")
        c.amm_burn(market_id=m, quantity=5, request_id="burn-a")
        c.order_place(market_id=m, order=order("YES", "SELL", 60, 10))
        c.order_place(market_id=m, order=order("YES", "BUY", 40, 10))
        platform.trader_order("YES", "BUY", 60, 4, tif="IOC")  # TRANSFER_YES: the AMM sells 4 YES
        platform.trader_order("NO", "BUY", 60, 3, tif="IOC")  # MINT: the AMM buys 3 YES
    return m


def command(*args: str) -> list[list[str]]:
    """The command's table rows, split on whitespace (title, header and rule dropped)."""
    out = io.StringIO()
    call_command(*args, stdout=out)
    return [line.split() for line in out.getvalue().splitlines()[3:] if line.strip()]


def test_daily_report_equals_the_command(viewer, traded):
    body = viewer.get(f"{BASE}/reports/daily", {"market": traded}).json()
    rows = {row[0]: [int(v) for v in row[1:]] for row in command("amm_report_daily", "--market", traded)}
    fields = ["trade_count", "total_quantity", "fees_paid_cents", "realized_pnl_cents", "cash_flow_cents"]
    api = {s["scenario"]: [s[f] for f in fields] for s in [*body["scenarios"], body["total"]]}
    assert api == rows
    assert api["TRANSFER_YES"][:2] == [1, 4] and api["MINT"][:2] == [1, 3] and api["TOTAL"][:2] == [2, 7]
    assert body["market_id"] == traded and body["time_zone"] == "UTC"

    everything = viewer.get(f"{BASE}/reports/daily").json()  # every market
    assert everything["market_id"] is None and everything["total"]["trade_count"] == 2
    assert viewer.get(f"{BASE}/reports/daily", {"date": "2001-01-01"}).json()["total"]["trade_count"] == 0


def test_pnl_report_equals_the_command_and_shows_a_mismatch(viewer, traded):
    body = viewer.get(f"{BASE}/reports/pnl/{traded}").json()
    out = io.StringIO()
    call_command("amm_report_pnl", traded, stdout=out)
    figures = dict(line.split() for line in out.getvalue().splitlines()[3:15])
    assert {k: body[k] for k in ("total_trades", "total_volume", "realized_pnl_cents", "total_fees_cents",
                                 "trade_cash_flow_cents", "ledger_trade_flow_cents")} == {
        k: int(figures[k]) for k in ("total_trades", "total_volume", "realized_pnl_cents", "total_fees_cents",
                                     "trade_cash_flow_cents", "ledger_trade_flow_cents")}
    assert body["net_ledger_flow_cents"] == int(figures["net_ledger_flow"])
    assert (body["ledger_matches"], body["ledger_cross_check"], figures["ledger_cross_check"]) == (
        True, "MATCH", "MATCH")
    ledger_rows = [line.split() for line in out.getvalue().splitlines()[18:] if line.strip()]
    assert [[r["entry_type"], r["reference_type"], str(r["amount_cents"])] for r in body["ledger"]] == ledger_rows

    LedgerEntry.objects.filter(market_id=traded, entry_type="FEE", reference_type="TRADE").update(amount=-999)
    tampered = viewer.get(f"{BASE}/reports/pnl/{traded}")
    assert tampered.status_code == 200  # a failed check is an answer
    assert (tampered.json()["ledger_matches"], tampered.json()["ledger_cross_check"]) == (False, "MISMATCH")
    with pytest.raises(CommandError, match="MISMATCH"):
        call_command("amm_report_pnl", traded, stdout=io.StringIO())


def test_pnl_report_without_the_ledger_check(viewer, traded, settings):
    settings.AMM_AUDIT_LEDGER_SQL = False
    body = viewer.get(f"{BASE}/reports/pnl/{traded}").json()
    assert (body["ledger"], body["ledger_matches"], body["ledger_cross_check"]) == (None, None, "SKIPPED")
    assert body["total_trades"] == 2 and body["notes"]


def test_mintburn_report_equals_the_command(viewer, traded):
    body = viewer.get(f"{BASE}/reports/mintburn/{traded}").json()
    out = io.StringIO()
    call_command("amm_report_mintburn", traded, stdout=out)
    assert body["ok"] is True and body["market_id"] == traded
    assert [c["name"] for c in body["checks"]] == ["YES shares = NO shares", "reserve = 100 × shares",
                                                   "ledger pairs of 1 mints / 1 burns"]
    for check in body["checks"]:
        line = next(line for line in out.getvalue().splitlines() if line.startswith(check["name"]))
        assert ("OK" if check["ok"] else "FAIL") in line and check["detail"] in line

    LedgerEntry.objects.filter(reference_type="AMM_MINT", reference_id="mint-a", entry_type="MINT_RESERVE_IN") \
        .update(amount=600)
    body = viewer.get(f"{BASE}/reports/mintburn/{traded}").json()
    assert body["ok"] is False and [c["ok"] for c in body["checks"]] == [True, True, False]


def test_reports_of_a_market_the_platform_does_not_know_and_bad_dates(viewer, platform):
    response = viewer.get(f"{BASE}/reports/mintburn/NO-SUCH-MARKET")
    assert response.status_code == 404, response.content
    response = viewer.get(f"{BASE}/reports/pnl/{platform.market_id}", {"date": "yesterday"})
    assert response.status_code == 400 and response.json()["field"] == "date"


def test_reports_when_the_platform_does_not_answer_are_502(viewer, settings):
    settings.AMM_PLATFORM_BASE_URL = f"http://127.0.0.1:{free_port()}"
    settings.AMM_PLATFORM_BACKOFF_BASE_MS = 1
    response = viewer.get(f"{BASE}/reports/daily")
    assert response.status_code == 502
    assert response.json()["error"] == "PLATFORM_UNAVAILABLE"
