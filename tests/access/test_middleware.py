"""Denied probes: a 404 on an object URL for a signed-in user is written to the audit log."""

from __future__ import annotations

import pytest
from django.http import Http404, HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path

from oms.models import AuditEvent
from oms.urls import urlpatterns as project_urls

pytestmark = pytest.mark.django_db


def _object_view(request: HttpRequest, number: str) -> HttpResponse:
    if number != "mine":
        raise Http404("not in your scope")
    return HttpResponse("ok")


urlpatterns = [*project_urls, path("probe-test/<str:number>/", _object_view, name="probe-test")]


@override_settings(ROOT_URLCONF=__name__)
def test_a_404_on_an_object_url_is_audited(cs_user):
    client = Client()
    client.force_login(cs_user)
    assert client.get("/probe-test/mine/").status_code == 200
    assert client.get("/probe-test/ORD-999/").status_code == 404
    event = AuditEvent.objects.get(action="access.denied_probe")
    assert event.actor == cs_user
    assert event.after == {
        "path": "/probe-test/ORD-999/",
        "method": "GET",
        "view": "probe-test",
        "kwargs": {"number": "ORD-999"},
    }
    assert event.ip == "127.0.0.1"


@override_settings(ROOT_URLCONF=__name__)
def test_anonymous_and_unresolved_404s_are_not_audited(cs_user):
    assert (
        Client().get("/probe-test/ORD-999/").status_code == 404
    )  # a real 404, so the anonymous case is tested
    client = Client()
    client.force_login(cs_user)
    assert client.get("/no/such/page/").status_code == 404
    assert not AuditEvent.objects.filter(action="access.denied_probe").exists()


def test_access_pages_probe_is_audited(admin_user):
    client = Client()
    client.force_login(admin_user)
    assert client.get("/access/users/999999/").status_code == 404
    event = AuditEvent.objects.get(action="access.denied_probe")
    assert event.after["view"] == "access:user" and event.after["kwargs"] == {"pk": "999999"}


def test_an_api_key_probe_outside_the_scope_is_audited():
    from oms.roles import Role
    from tests.access.world import build_world

    world = build_world(with_keys=True)
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {world.keys[Role.STORE_STAFF]}")
    assert client.get(f"/api/v1/orders/{world.order_a.number}/").status_code == 200
    assert client.get(f"/api/v1/orders/{world.order_b.number}/").status_code == 404
    event = AuditEvent.objects.get(action="access.denied_probe")
    assert event.actor == world.users[Role.STORE_STAFF]
    assert event.after["view"] == "api:order-detail"
    assert event.after["kwargs"] == {"number": world.order_b.number}
