# The routing queue: a partial index of the orders awaiting routing (see Order.Meta.indexes).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0002_alter_location_region'),
        ('orders', '0007_order_indexes_not_twice'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='order',
            index=models.Index(condition=models.Q(('status', 'awaiting_routing')), fields=['id'], name='order_awaiting_routing_idx'),
        ),
    ]
