"""Baseline data: the platform's system users (fee account, reserve custody)."""
from django.db import migrations

FEE_USER_ID = "00000000-0000-4000-a000-0000000000e2"
RESERVE_USER_ID = "00000000-0000-4000-a000-0000000000e1"


def seed(apps, schema_editor):
    User = apps.get_model("exchange", "User")
    Account = apps.get_model("exchange", "Account")
    User.objects.update_or_create(
        id=FEE_USER_ID, defaults={"username": "exchange_fees", "email": "fees@system.internal", "password_hash": "!"}
    )
    Account.objects.get_or_create(user_id=FEE_USER_ID)
    # The reserve has no account: its balance is Σ markets.reserve_balance (SPEC §3.5 I4).
    User.objects.update_or_create(
        id=RESERVE_USER_ID,
        defaults={"username": "exchange_reserve", "email": "reserve@system.internal", "password_hash": "!"},
    )


def unseed(apps, schema_editor):
    apps.get_model("exchange", "Account").objects.filter(user_id=FEE_USER_ID).delete()
    apps.get_model("exchange", "User").objects.filter(id__in=[FEE_USER_ID, RESERVE_USER_ID]).delete()


class Migration(migrations.Migration):
    dependencies = [("exchange", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
