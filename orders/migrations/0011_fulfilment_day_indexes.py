"""The KPI rollups read one day's fulfilments at a time: those created that day and those done (sent, handed to a
transfer or made ready for pickup) that day. Without these two indexes each read scans the whole table (about
120 ms at a million fulfilments; bench/kpi_rollup.py).

CREATE INDEX holds writes to the table while it runs (seconds per million rows). On a large installation, create
them beforehand without holding writes; this migration creates them only if they are not there yet:
    CREATE INDEX CONCURRENTLY IF NOT EXISTS fulfilment_created_at ON orders_fulfilment (created_at);
    CREATE INDEX CONCURRENTLY IF NOT EXISTS fulfilment_done_at
        ON orders_fulfilment ((COALESCE(shipped_at, dispatched_at, ready_at)));
"""

import django.db.models.functions.comparison
from django.conf import settings
from django.db import migrations, models

CREATE = [
    "CREATE INDEX IF NOT EXISTS fulfilment_created_at ON orders_fulfilment (created_at)",
    "CREATE INDEX IF NOT EXISTS fulfilment_done_at ON orders_fulfilment ((COALESCE(shipped_at, dispatched_at, ready_at)))",
]
DROP = ["DROP INDEX IF EXISTS fulfilment_created_at", "DROP INDEX IF EXISTS fulfilment_done_at"]


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0002_alter_location_region'),
        ('orders', '0010_equality_indexes_without_pattern_ops'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(CREATE, reverse_sql=DROP)],
            state_operations=[
                migrations.AddIndex(
                    model_name='fulfilment',
                    index=models.Index(fields=['created_at'], name='fulfilment_created_at'),
                ),
                migrations.AddIndex(
                    model_name='fulfilment',
                    index=models.Index(
                        django.db.models.functions.comparison.Coalesce('shipped_at', 'dispatched_at', 'ready_at'),
                        name='fulfilment_done_at',
                    ),
                ),
            ],
        ),
    ]
