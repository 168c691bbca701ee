"""Drop the prefix index on UPPER(orders_customer.name) (migration 0002): the search box matches a name on the
order since 0005 (Order.customer_name and its indexes), so nothing reads it, and every customer insert paid for it."""

from django.db import migrations


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS customer_name_prefix_idx")


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS customer_name_prefix_idx ON orders_customer (UPPER(name) text_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_order_customer_name")]
    operations = [migrations.RunPython(drop, create)]
