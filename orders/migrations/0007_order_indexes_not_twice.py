"""Indexes of orders_order that were kept twice (each one is paid on every order insert).

channel and customer are led by (channel, -placed_at), (customer, -placed_at) and the (channel, external_ref)
unique constraint; status by (status, -placed_at); the idempotency key's LIKE index never served a query. The
foreign-key indexes are dropped with a plain DROP INDEX (Django would drop and re-validate the foreign keys,
a scan of the whole table), the rest with Django's own operations.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0002_alter_location_region'),
        ('orders', '0006_drop_customer_name_prefix_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='order',
                    name='channel',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='orders.channel'),
                ),
                migrations.AlterField(
                    model_name='order',
                    name='customer',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='orders.customer'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "orders_order_channel_id_a76729a3";',
                    'CREATE INDEX "orders_order_channel_id_a76729a3" ON "orders_order" ("channel_id");',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "orders_order_customer_id_0b76f6a4";',
                    'CREATE INDEX "orders_order_customer_id_0b76f6a4" ON "orders_order" ("customer_id");',
                ),
            ],
        ),
        migrations.AlterField(
            model_name='order',
            name='idempotency_key',
            field=models.CharField(blank=True, max_length=128, null=True, verbose_name='idempotency key'),
        ),
        migrations.AlterField(
            model_name='order',
            name='status',
            field=models.CharField(choices=[('received', 'Received'), ('awaiting_routing', 'Awaiting routing'), ('allocated', 'Allocated'), ('backordered', 'Backordered'), ('in_fulfilment', 'In fulfilment'), ('partly_shipped', 'Partly shipped'), ('shipped', 'Shipped'), ('delivered', 'Delivered'), ('ready_for_pickup', 'Ready for pickup'), ('collected', 'Collected'), ('on_hold', 'On hold'), ('cancelled', 'Cancelled')], default='received', max_length=20, verbose_name='status'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.UniqueConstraint(fields=('idempotency_key',), name='order_unique_idempotency_key'),
        ),
    ]
