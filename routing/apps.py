from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = _("Routing")

    def ready(self) -> None:
        # orders may not import routing: it asks for carrier services through the source registered here.
        from orders.carriers import CarrierServiceSource, carrier_services_register

        from .selectors import carrier_service_names, carrier_services_from

        carrier_services_register(
            CarrierServiceSource(offered=carrier_services_from, names=carrier_service_names)
        )
