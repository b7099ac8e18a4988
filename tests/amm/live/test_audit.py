"""Audit reports (seed §2.4, §8.3, §8.4) as management commands against the live platform."""
from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from amm.services.audit import amm_mint_verified, daily_stats, amm_trades, pnl_report
from exchange.models import LedgerEntry
from tests.amm.live.conftest import order

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def traded(platform):
    m = platform.market_id
    with platform.connector() as c:
        c.amm_mint(market_id=m, quantity=30, request_id="mint-a")
        c.amm_burn(market_id=m, quantity=5, request_id="burn-a")
        c.order_place(market_id=m, order=order("YES", "SELL", 60, 10))
        c.order_place(market_id=m, order=order("YES", "BUY", 40, 10))
        platform.trader_order("YES", "BUY", 60, 4, tif="IOC")  # TRANSFER_YES: AMM sells 4 YES
        platform.trader_order("NO", "BUY", 60, 3, tif="IOC")  # MINT: AMM buys 3 YES
    return m


def test_daily_report_by_scenario(platform, traded):
    text = run("amm_report_daily", "--market", traded)
    lines = {line.split()[0]: line.split()[1:] for line in text.splitlines()[2:] if line.strip()}
    assert lines["TRANSFER_YES"][:2] == ["1", "4"] and lines["MINT"][:2] == ["1", "3"]
    assert lines["BURN"][:2] == ["0", "0"] and lines["TOTAL"][:2] == ["2", "7"]
    with platform.connector() as c:
        stats = {s.scenario: s for s in daily_stats(amm_trades(c, market_id=traded))}
    assert stats["TRANSFER_YES"].realized_pnl_cents == 4 * 60 - 4 * 50 - stats["TRANSFER_YES"].fees_paid_cents


def test_pnl_report_cross_checks_the_ledger(platform, traded):
    text = run("amm_report_pnl", traded)
    assert "ledger_cross_check" in text and "MATCH" in text and "MISMATCH" not in text
    assert "total_trades" in text and "realized_pnl_cents" in text
    with platform.connector() as c:
        report = pnl_report(c, market_id=traded)
    assert report.ledger_matches and report.total_trades == 2 and report.total_volume == 7
    assert report.trade_cash_flow_cents == 4 * 60 - 3 * 40 - report.total_fees_cents
    # a tampered ledger is caught
    LedgerEntry.objects.filter(market_id=traded, entry_type="FEE", reference_type="TRADE").update(amount=-999)
    with pytest.raises(CommandError, match="MISMATCH"):
        run("amm_report_pnl", traded)


def test_mint_burn_consistency(platform, traded, settings):
    text = run("amm_report_mintburn", traded)
    assert "FAIL" not in text and "1 mints / 1 burns" in text
    with platform.connector() as c:
        result, ok = amm_mint_verified(c, market_id=traded, quantity=7, request_id="mint-b")
    assert ok and result.quantity == 7
    LedgerEntry.objects.filter(reference_type="AMM_MINT", reference_id="mint-b", entry_type="MINT_RESERVE_IN") \
        .update(amount=600)
    with pytest.raises(CommandError):
        run("amm_report_mintburn", traded)
    settings.AMM_AUDIT_LEDGER_SQL = False
    assert "skipped" in run("amm_report_mintburn", traded)
