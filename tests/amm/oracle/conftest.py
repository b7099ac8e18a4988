"""Fixtures of the oracle tests: a real HTTP source, and adapters rebuilt per test."""
from __future__ import annotations

import pytest

from tests.amm.oracle.server import OracleServer


@pytest.fixture
def oracle_server():
    from amm.oracle import adapters_close

    server = OracleServer().start()
    try:
        yield server
    finally:
        adapters_close()
        server.stop()
