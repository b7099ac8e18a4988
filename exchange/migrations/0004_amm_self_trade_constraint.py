"""AMM extension 2 (seed §3.4, migration 013, option A): the AMM may trade with itself."""
from django.db import migrations, models
from django.db.models import F, Q

AMM_USER_ID = "00000000-0000-4000-a000-000000000001"


class Migration(migrations.Migration):
    dependencies = [("exchange", "0003_add_auto_netting_enabled")]
    operations = [
        migrations.RemoveConstraint(model_name="trade", name="ck_trades_diff_users"),
        migrations.AddConstraint(
            model_name="trade",
            constraint=models.CheckConstraint(
                condition=~Q(buy_user_id=F("sell_user_id")) | Q(buy_user_id=AMM_USER_ID),
                name="ck_trades_diff_users",
            ),
        ),
    ]
