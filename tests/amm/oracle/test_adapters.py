"""The built-in adapters against a real HTTP source (SPEC §6): JSON paths, units, the
source's timestamp or the fetch time, and every way a source can fail (typed OracleError)."""
from __future__ import annotations

import pytest

from amm.oracle import FeedConfig, OracleBadAnswer, OracleMisconfigured, OracleUnavailable
from amm.oracle.base import timestamp_ms
from amm.oracle.http_json import HttpJsonOracle, SimOracle

NOW = 1_733_500_000_000


def feed(server, **kw) -> FeedConfig:
    return FeedConfig(**{"adapter": "http_json", "url_template": server.template, "timeout_ms": 2000, **kw})


@pytest.fixture
def adapter():
    a = HttpJsonOracle(name="http_json")
    yield a
    a.close()


@pytest.mark.parametrize("document, path, unit, cents", [
    ({"probability": 0.634}, "probability", "probability", 63.4),
    ({"data": {"probability": 0.25}}, "data.probability", "probability", 25.0),
    ({"price": 71}, "price", "cents", 71.0),
    ({"results": [{"p": "0.5"}]}, "results.0.p", "probability", 50.0),  # a decimal sent as a string
    ({"probability": 0}, "probability", "probability", 0.0),
    ({"price": 100}, "price", "cents", 100.0),
])
def test_the_value_at_the_json_path_in_its_unit_becomes_cents(oracle_server, adapter, document, path, unit, cents):
    oracle_server.answer("MKT-1", document)
    quote = adapter.read("MKT-1", feed(oracle_server, json_path=path, unit=unit), NOW)
    assert quote.price_cents == pytest.approx(cents)
    assert quote.ts_ms == NOW and quote.source == "http_json"  # no timestamp path: the fetch time
    assert oracle_server.requests == ["MKT-1"]


@pytest.mark.parametrize("ts, expected", [
    (NOW - 7_000, NOW - 7_000),  # epoch ms
    ((NOW - 7_000) / 1000, NOW - 7_000),  # epoch seconds
    ("2024-12-06T15:46:33Z", 1_733_499_993_000),  # ISO 8601
    ("2024-12-06T15:46:33", 1_733_499_993_000),  # naive: UTC
    (NOW + 60_000, NOW),  # the source's clock is ahead: never fresher than the fetch
])
def test_the_sources_timestamp_when_a_path_names_it(oracle_server, adapter, ts, expected):
    oracle_server.answer("MKT-1", {"data": {"p": 0.4, "at": ts}})
    quote = adapter.read("MKT-1", feed(oracle_server, json_path="data.p", ts_json_path="data.at"), NOW)
    assert (quote.price_cents, quote.ts_ms) == (pytest.approx(40.0), expected)


def test_the_market_id_is_substituted_and_quoted(oracle_server, adapter):
    oracle_server.answer("A%2FB", {"probability": 0.5})
    assert adapter.read("A/B", feed(oracle_server), NOW).price_cents == 50.0
    assert oracle_server.requests == ["A%2FB"]


def test_the_sim_adapter_reads_the_simulators_answer_whatever_the_markets_paths(oracle_server):
    oracle_server.answer("MKT-S", {"probability": 0.634, "ts_ms": NOW - 1_500})
    sim = SimOracle()
    try:
        quote = sim.read("MKT-S", feed(oracle_server, adapter="sim", json_path="price", unit="cents"), NOW)
    finally:
        sim.close()
    assert (quote.price_cents, quote.ts_ms, quote.source) == (pytest.approx(63.4), NOW - 1_500, "sim")


@pytest.mark.parametrize("document, body, path, unit, message", [
    (None, b"<html>oops</html>", "probability", "probability", "not JSON"),
    ({"other": 0.5}, None, "probability", "probability", "no value at"),
    ({"data": [0.5]}, None, "data.3", "probability", "no value at"),
    ({"probability": "n/a"}, None, "probability", "probability", "not a number"),
    ({"probability": None}, None, "probability", "probability", "not a number"),
    ({"probability": True}, None, "probability", "probability", "not a number"),
    ({"probability": 1.3}, None, "probability", "probability", "outside 0..1"),
    ({"probability": -0.01}, None, "probability", "probability", "outside 0..1"),
    ({"price": 100.5}, None, "price", "cents", "outside 0..100"),
    (None, b'{"probability": NaN}', "probability", "probability", "not a finite number"),
])
def test_a_bad_answer_is_an_oracle_bad_answer(oracle_server, adapter, document, body, path, unit, message):
    oracle_server.answer("MKT-1", document, body=body)
    with pytest.raises(OracleBadAnswer, match=message):
        adapter.read("MKT-1", feed(oracle_server, json_path=path, unit=unit), NOW)


def test_a_bad_timestamp_is_an_oracle_bad_answer(oracle_server, adapter):
    oracle_server.answer("MKT-1", {"probability": 0.5, "at": "yesterday"})
    with pytest.raises(OracleBadAnswer, match="ISO 8601"):
        adapter.read("MKT-1", feed(oracle_server, ts_json_path="at"), NOW)


def test_an_answer_too_large_to_be_a_reading_is_refused(oracle_server, adapter):
    oracle_server.answer("MKT-1", {"probability": 0.5, "padding": "x" * 100_000})
    with pytest.raises(OracleBadAnswer, match="larger than"):
        adapter.read("MKT-1", feed(oracle_server), NOW)


@pytest.mark.parametrize("status", [404, 500, 503, 302])
def test_an_error_status_is_unavailable(oracle_server, adapter, status):
    oracle_server.answer("MKT-1", {"probability": 0.5}, status=status)
    with pytest.raises(OracleUnavailable, match=f"HTTP {status}"):
        adapter.read("MKT-1", feed(oracle_server), NOW)


def test_a_source_slower_than_the_timeout_is_unavailable(oracle_server, adapter):
    oracle_server.answer("MKT-1", {"probability": 0.5}, hold=True)
    with pytest.raises(OracleUnavailable, match="within 200 ms"):
        adapter.read("MKT-1", feed(oracle_server, timeout_ms=200), NOW)
    assert oracle_server.held.is_set()  # it was asked, and did not answer in time


def test_a_refused_connection_is_unavailable(oracle_server, adapter):
    url = oracle_server.template
    oracle_server.stop()
    with pytest.raises(OracleUnavailable):
        adapter.read("MKT-1", FeedConfig(adapter="http_json", url_template=url, timeout_ms=500), NOW)


@pytest.mark.parametrize("template", ["", "ftp://example.org/{market_id}", "not a url"])
def test_a_missing_or_non_http_url_is_misconfigured(adapter, template):
    with pytest.raises(OracleMisconfigured):
        adapter.read("MKT-1", FeedConfig(adapter="http_json", url_template=template), NOW)


def test_config_errors_name_the_fields_an_adapter_cannot_work_with(adapter):
    errors = adapter.config_errors(FeedConfig(adapter="http_json", url_template="", json_path="data..p",
                                              ts_json_path=".", unit="percent"))
    assert set(errors) == {"oracle_url_template", "oracle_json_path", "oracle_ts_json_path", "oracle_unit"}
    assert adapter.config_errors(FeedConfig(adapter="http_json", url_template="https://o.example/{market_id}",
                                            json_path="data.p")) == {}
    assert SimOracle().config_errors(FeedConfig(adapter="sim", url_template="http://127.0.0.1:8100/oracle/{market_id}",
                                                json_path="")) == {}  # the sim's paths are its own


def test_timestamps_below_1e11_are_seconds():
    assert timestamp_ms(1_733_500_000, now_ms=NOW) == NOW
    assert timestamp_ms("1733500000000", now_ms=NOW) == NOW
    with pytest.raises(OracleBadAnswer):
        timestamp_ms(0, now_ms=NOW)


def test_the_adapters_pure_parts_know_no_django_redis_or_platform():
    import ast
    from pathlib import Path

    import amm.oracle

    package = Path(amm.oracle.__file__).parent
    offenders = []
    for name in ("base.py", "http_json.py"):
        for node in ast.walk(ast.parse((package / name).read_text())):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            offenders += [f"{name}: {m}" for m in modules
                          if m.split(".")[0] in ("django", "redis", "rq", "exchange")
                          or m.startswith(("amm.state", "amm.connector", "amm.models", "amm.services"))]
    assert offenders == []
