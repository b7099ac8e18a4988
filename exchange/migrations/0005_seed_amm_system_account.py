"""AMM extension 3 (seed §3.2, migration 014): the AMM user and account, fixed UUID.

The account is inserted with auto_netting_enabled = FALSE explicitly: the seed's SQL inserts
it after migration 012 has run, so relying on the column default would turn netting on.
"""
from django.db import migrations

AMM_USER_ID = "00000000-0000-4000-a000-000000000001"


def seed(apps, schema_editor):
    User = apps.get_model("exchange", "User")
    Account = apps.get_model("exchange", "Account")
    User.objects.update_or_create(
        id=AMM_USER_ID,
        defaults={
            "username": "amm_market_maker",
            "email": "amm@system.internal",
            # Not a valid hash of anything: this user can never log in with a password.
            "password_hash": "$2b$12$SYSTEM_NO_LOGIN",
            "is_active": True,
        },
    )
    account, _ = Account.objects.get_or_create(user_id=AMM_USER_ID, defaults={"auto_netting_enabled": False})
    if account.auto_netting_enabled:
        account.auto_netting_enabled = False
        account.save(update_fields=["auto_netting_enabled"])


def unseed(apps, schema_editor):
    apps.get_model("exchange", "Account").objects.filter(user_id=AMM_USER_ID).delete()
    apps.get_model("exchange", "User").objects.filter(id=AMM_USER_ID).delete()


class Migration(migrations.Migration):
    dependencies = [("exchange", "0004_amm_self_trade_constraint")]
    operations = [migrations.RunPython(seed, unseed)]
