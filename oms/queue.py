"""Starting background work from a service: by task name, after the transaction commits.

Lower apps start work in higher ones this way (orders → routing) without importing them. Nothing is sent
to Redis inside a transaction; if the transaction rolls back, nothing is sent at all.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from .celery import app

logger = logging.getLogger(__name__)


def send_task_now(name: str, *args: Any, **kwargs: Any) -> None:
    """Queue a registered task (run inline when Celery is eager, as in the embedded default)."""
    try:
        task = app.tasks[name]
    except KeyError:
        logger.error("task %s is not registered; %s not queued", name, args)
        raise
    task.apply_async(args=args, kwargs=kwargs)


def enqueue_on_commit(name: str, *args: Any, **kwargs: Any) -> None:
    """Queue task `name` once the current transaction commits."""
    transaction.on_commit(lambda: send_task_now(name, *args, **kwargs))
