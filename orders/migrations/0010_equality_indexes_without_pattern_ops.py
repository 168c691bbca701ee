"""Order numbers, CEPs and customers' e-mail, document and phone are found by equality only. `unique=True` and
`db_index=True` on a text field also made, on PostgreSQL, a second (pattern-ops) index for prefix matches, written
on every insert: five index entries fewer per order with a new customer. The plain indexes are made again under
names of their own.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0002_alter_location_region'),
        ('orders', '0009_line_event_order_index_not_twice'),
    ]

    operations = [
        migrations.AlterField(
            model_name='customer',
            name='document',
            field=models.CharField(blank=True, max_length=14, verbose_name='CPF/CNPJ'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='email',
            field=models.EmailField(blank=True, max_length=254, verbose_name='e-mail'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='phone',
            field=models.CharField(blank=True, max_length=20, verbose_name='phone'),
        ),
        migrations.AlterField(
            model_name='order',
            name='number',
            field=models.CharField(editable=False, max_length=20, null=True, verbose_name='number'),
        ),
        migrations.AlterField(
            model_name='order',
            name='ship_cep',
            field=models.CharField(blank=True, max_length=8, verbose_name='CEP'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['email'], name='customer_email_idx'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['document'], name='customer_document_idx'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['phone'], name='customer_phone_idx'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['ship_cep'], name='order_ship_cep_idx'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.UniqueConstraint(fields=('number',), name='order_unique_number'),
        ),
    ]
