"""AMM ids the platform keeps: a mint/burn request id fits the ledger's 64-character
reference whatever the market id's length, and stays the same for the same operation."""
from __future__ import annotations

from amm.connector import ClientOrderIdGenerator, bounded_request_id
from amm.connector.ids import REQUEST_ID_MAX

LONG_MARKET = "MKT-" + "X" * 60  # the longest market id the platform allows (64)


def test_a_long_market_ids_request_id_fits_the_platform():
    ids = ClientOrderIdGenerator()
    first = ids.request_id(market_id=LONG_MARKET, kind="mint", timestamp_ms=1_733_500_000_000)
    second = ids.request_id(market_id=LONG_MARKET, kind="mint", timestamp_ms=1_733_500_000_000)
    assert len(first) <= REQUEST_ID_MAX and len(second) <= REQUEST_ID_MAX
    assert first != second  # the sequence still tells two operations apart


def test_bounded_request_ids_are_deterministic_and_short_ones_unchanged():
    wind_down = f"amm_{LONG_MARKET}_winddown_120_80"
    assert bounded_request_id(wind_down) == bounded_request_id(wind_down)  # a retry names the same burn
    assert bounded_request_id(wind_down) != bounded_request_id(f"amm_{LONG_MARKET}_winddown_120_81")
    assert len(bounded_request_id(wind_down)) <= REQUEST_ID_MAX
    assert bounded_request_id("amm_MKT-1_mint_1_0") == "amm_MKT-1_mint_1_0"
