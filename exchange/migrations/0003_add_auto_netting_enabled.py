"""AMM extension 1 (seed §3.3, migration 012): accounts.auto_netting_enabled, AMM set FALSE."""
from django.db import migrations, models

AMM_USER_ID = "00000000-0000-4000-a000-000000000001"


def amm_off(apps, schema_editor):
    apps.get_model("exchange", "Account").objects.filter(user_id=AMM_USER_ID).update(auto_netting_enabled=False)


def amm_on(apps, schema_editor):
    pass  # the column goes away on reverse


class Migration(migrations.Migration):
    dependencies = [("exchange", "0002_system_accounts")]
    operations = [
        migrations.AddField(
            model_name="account",
            name="auto_netting_enabled",
            field=models.BooleanField(default=True, db_default=True),
        ),
        migrations.RunPython(amm_off, amm_on),
    ]
