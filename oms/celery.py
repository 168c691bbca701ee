"""The Celery app, configured from Django settings (CELERY_ namespace), tasks autodiscovered."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.dev")

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_postrun.connect
def _release_db_connection(task: Any = None, **kwargs: Any) -> None:
    # With CELERY_DB_REUSE_MAX the connection outlives the task: in a worker, hand it back to the pool (or
    # drop it when broken or too old), as Django does at the end of a request. A task run inline belongs to
    # the caller's request or transaction, which keeps its connection.
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
