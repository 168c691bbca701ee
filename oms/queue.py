"""Starting background work from a service: by task name, after the transaction commits.

Lower apps start work in higher ones this way (orders → routing) without importing them. Nothing is sent
to Redis inside a transaction; if the transaction rolls back, nothing is sent at all. `request_on_commit`
is for work that drains a queue in the database (orders awaiting routing): at most one message waits.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction

from .celery import app


def tasks_inline() -> bool:
    """Whether tasks run inline in the caller's process (no Redis, no worker: the embedded default)."""
    return bool(app.conf.task_always_eager)


def send_task_now(name: str, *args: Any, **kwargs: Any) -> None:
    """Queue task `name` by name; inline when Celery is eager (the embedded default)."""
    if not tasks_inline():
        app.send_task(name, args=args, kwargs=kwargs)
        return
    if name not in app.tasks:
        # Autodiscovery is lazy outside the worker: import the apps' tasks modules once.
        app.loader.import_default_modules()
    app.tasks[name].apply_async(args=args, kwargs=kwargs)


def enqueue_on_commit(name: str, *args: Any, **kwargs: Any) -> None:
    """Queue task `name` once the current transaction commits."""
    transaction.on_commit(lambda: send_task_now(name, *args, **kwargs))


# How long a request stays set if its task never clears it (a lost message): then the next commit asks again.
REQUEST_TTL = 60


def _request_key(name: str) -> str:
    return f"oms:task-requested:{name}"


def request_on_commit(name: str) -> None:
    """Queue task `name` once the current transaction commits, unless a run of it is already requested and
    has not started its next pass yet (a Redis key set with NX): at a high intake, one message serves many
    commits instead of one message each.

    The task calls `request_taken(name)` before each pass over its work and passes until a pass finds
    nothing. That order makes it safe: a commit either sets the key (and queues a run that starts after the
    commit) or finds it set, and then a pass that starts after the key is next cleared sees the commit.
    """

    def send() -> None:
        if cache.add(_request_key(name), 1, REQUEST_TTL):
            try:
                send_task_now(name)
            except BaseException:
                request_taken(name)  # nothing was queued: the next commit must ask again
                raise

    transaction.on_commit(send)


def request_taken(name: str) -> None:
    """Called by task `name` before each pass: a commit from now on queues a new run (request_on_commit)."""
    cache.delete(_request_key(name))


# How long a run's lease lasts if the run dies holding it (the beat's safety-net tasks route meanwhile).
LEASE_TTL = 300


def _lease_key(name: str) -> str:
    return f"oms:task-running:{name}"


def lease_take(name: str) -> bool:
    """Let one run of task `name` work at a time: True for the run that takes the lease, False while another
    holds it (the caller returns at once: the holder passes until a pass finds nothing, and `lease_release`
    covers the commits it may have missed). One run at a time lets each pass gather more work."""
    return bool(cache.add(_lease_key(name), 1, LEASE_TTL))


def lease_release(name: str) -> bool:
    """Give the lease back; True when a run was requested since the holder last cleared the request, so the
    caller must queue one. That request's commit may have come after the holder's last pass began, and the
    run it queued found the lease taken and left: the check comes after the release, so either that run saw
    the lease free or this check sees its request."""
    cache.delete(_lease_key(name))
    return cache.get(_request_key(name)) is not None
