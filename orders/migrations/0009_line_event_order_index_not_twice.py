"""The order_id indexes of order lines and timeline entries, kept twice: (order, line_no) and (order, at)
lead with it. Two index entries fewer per line and per event written (five per order). Dropped with a plain
DROP INDEX, as in 0007 (Django would drop and re-validate the foreign keys, a scan of each table).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0008_order_awaiting_routing_idx'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='orderline',
                    name='order',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='orders.order'),
                ),
                migrations.AlterField(
                    model_name='orderevent',
                    name='order',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='orders.order'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "orders_orderline_order_id_17f8f3ef";',
                    'CREATE INDEX "orders_orderline_order_id_17f8f3ef" ON "orders_orderline" ("order_id");',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "orders_orderevent_order_id_b26297f3";',
                    'CREATE INDEX "orders_orderevent_order_id_b26297f3" ON "orders_orderevent" ("order_id");',
                ),
            ],
        ),
    ]
