from django.core.management.base import BaseCommand

from oms.roles import setup_roles


class Command(BaseCommand):
    help = "Create the role groups with their model permissions (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        groups = setup_roles()
        for role, group in groups.items():
            self.stdout.write(f"{role}: {group.permissions.count()} permissions")
