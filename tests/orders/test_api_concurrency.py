"""The same order sent by 10 clients at once is taken exactly once (real threads, real transactions)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from rest_framework.test import APIClient

from orders.models import Order, OrderLine
from tests.factories import ChannelFactory, ProductFactory, UserFactory

from .test_api import ORDERS, base_payload


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "header", [False, True], ids=["same reference", "same idempotency key with ten references"]
)
def test_ten_clients_sending_the_same_order_make_one(header):
    ChannelFactory(code="web")
    ProductFactory(sku="CAM-0001-P")
    user: Any = UserFactory(username="integration")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["add_order", "view_order"]))
    barrier = threading.Barrier(10)
    answers: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def send(i: int) -> None:
        client = APIClient()
        client.force_authenticate(user)
        body = base_payload("WEB-RACE" if not header else f"WEB-RACE-{i}")
        extra: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": "race-key"} if header else {}
        try:
            barrier.wait(timeout=10)
            response = client.post(ORDERS, body, format="json", **extra)
            data = response.json()
            answers.append((response.status_code, data.get("number") or data.get("order")))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 1
    number = Order.objects.get().number
    # the same order again gets it (200); another order with the same key is refused, naming it (422)
    assert sorted(code for code, _ in answers) == sorted([201] + [422 if header else 200] * 9)
    assert {n for _, n in answers} == {number}
