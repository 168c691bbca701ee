"""Starting background work from a service: by task name, after the transaction commits.

Lower apps start work in higher ones this way (orders → routing) without importing them. Nothing is sent
to Redis inside a transaction; if the transaction rolls back, nothing is sent at all.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .celery import app


def send_task_now(name: str, *args: Any, **kwargs: Any) -> None:
    """Queue task `name` by name; inline when Celery is eager (the embedded default)."""
    if not app.conf.task_always_eager:
        app.send_task(name, args=args, kwargs=kwargs)
        return
    if name not in app.tasks:
        # Autodiscovery is lazy outside the worker: import the apps' tasks modules once.
        app.loader.import_default_modules()
    app.tasks[name].apply_async(args=args, kwargs=kwargs)


def enqueue_on_commit(name: str, *args: Any, **kwargs: Any) -> None:
    """Queue task `name` once the current transaction commits."""
    transaction.on_commit(lambda: send_task_now(name, *args, **kwargs))
