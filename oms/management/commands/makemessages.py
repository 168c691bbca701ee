"""`makemessages` that also extracts the msgids `oms.phrases` marks (stored now, translated when read)."""

from __future__ import annotations

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [
        *makemessages.Command.xgettext_options,
        "--keyword=phrase",
        "--keyword=nphrase:1,2",
        "--keyword=pphrase:1c,2",
    ]
