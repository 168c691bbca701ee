"""Seed the default carriers, services, transfer terms and default policy (idempotent)."""

from django.db import migrations


def seed(apps, schema_editor):
    from routing.services.defaults import setup_defaults

    setup_defaults(
        carrier_model=apps.get_model("routing", "Carrier"),
        service_model=apps.get_model("routing", "CarrierService"),
        terms_model=apps.get_model("routing", "TransferTerms"),
        policy_model=apps.get_model("routing", "RoutingPolicy"),
    )


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
