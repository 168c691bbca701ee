from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = _("Access")

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from . import schema  # noqa: F401 (registers the API-key scheme with drf-spectacular)
        from .signals import audit_locked_out

        user_locked_out.connect(audit_locked_out, dispatch_uid="access.audit_locked_out")
