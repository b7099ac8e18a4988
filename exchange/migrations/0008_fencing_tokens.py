"""Issue 15: the highest fencing token per (user, market) that order calls carried."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('exchange', '0007_outbox_published_index_partial'),
    ]

    operations = [
        migrations.CreateModel(
            name='FencingToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('user_id', models.CharField(max_length=64)),
                ('token', models.BigIntegerField()),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('market', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+',
                                             to='exchange.market')),
            ],
            options={
                "db_table": "fencing_tokens",
                "constraints": [
                    models.UniqueConstraint(fields=("user_id", "market"), name="uq_fencing_tokens_user_market"),
                    models.CheckConstraint(condition=models.Q(("token__gte", 0)),
                                           name="ck_fencing_tokens_token_nonneg"),
                ],
            },
        ),
    ]
