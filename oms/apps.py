from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = _("OMS")

    def ready(self) -> None:
        from . import authentication, roles, webhooks  # noqa: F401  (their signal receivers)

        # Roles are data every database must have: (re)created after each migrate, idempotently.
        post_migrate.connect(roles.setup_roles_after_migrate, dispatch_uid="oms.setup_roles")
