"""The live demo's seeding step is repeatable: run twice, it creates everything once."""
import io

import pytest
from django.core.management import call_command

from exchange.enums import AMM_USER_ID
from exchange.models import Account, Market


@pytest.mark.django_db
def test_demo_seeding_is_idempotent():
    for _ in range(2):
        call_command("demo_live", "--no-serve", stdout=io.StringIO())
    assert Market.objects.filter(pk="MKT-BTC-100K-2026", status="ACTIVE").count() == 1
    assert Account.objects.get(user_id=AMM_USER_ID).available_balance == 1_000_000  # funded once
    from amm.models import AMMInstance

    assert AMMInstance.objects.filter(market_id="MKT-BTC-100K-2026").count() == 1
