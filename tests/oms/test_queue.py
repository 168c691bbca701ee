"""oms.queue.request_on_commit: one waiting run serves many commits; a failed send leaves no request."""

from __future__ import annotations

import pytest

from oms import queue

pytestmark = pytest.mark.django_db
NAME = "routing.drain"


@pytest.fixture
def sent(monkeypatch):
    names: list[str] = []
    monkeypatch.setattr(queue, "send_task_now", lambda name, *a, **k: names.append(name))
    return names


def _commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queue.request_on_commit(NAME)


def test_one_run_is_queued_until_the_task_takes_the_request(sent, django_capture_on_commit_callbacks):
    for _ in range(3):
        _commit(django_capture_on_commit_callbacks)
    assert sent == [NAME]
    queue.request_taken(NAME)  # the run starts a pass
    _commit(django_capture_on_commit_callbacks)
    assert sent == [NAME, NAME]


def test_nothing_is_requested_when_the_transaction_rolls_back(sent):
    from django.db import transaction

    with transaction.atomic():
        queue.request_on_commit(NAME)
        transaction.set_rollback(True)
    assert sent == []


def test_a_send_that_fails_leaves_no_request(monkeypatch, django_capture_on_commit_callbacks):
    def broker_down(name, *a, **k):
        raise ConnectionError("broker down")

    monkeypatch.setattr(queue, "send_task_now", broker_down)
    with pytest.raises(ConnectionError):
        _commit(django_capture_on_commit_callbacks)
    names: list[str] = []
    monkeypatch.setattr(queue, "send_task_now", lambda name, *a, **k: names.append(name))
    _commit(django_capture_on_commit_callbacks)
    assert names == [NAME]  # the next commit asks again
