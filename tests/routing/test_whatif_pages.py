"""The what-if pages: managers and admins only, form errors shown, progress polled, comparison rendered."""

from __future__ import annotations

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from routing import tasks
from routing.models import WhatIfRun, WhatIfStatus
from routing.services.whatif import whatif_run_start

pytestmark = pytest.mark.django_db

GOOD = {
    "channel": "",
    "days": "7",
    "max_packages": "",
    "allowed_kinds": ["dc"],
    "ship_from_store": "on",
    "use_forecast": "on",
    "store_walkin_share": "0",
    "speed_value": "0",
    "paused_locations": "",
    "split_penalty": "5",
    "backorder_per_unit": "40",
    "backorder_price_share": "0.5",
}


@pytest.fixture
def world(routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 20)
    w.stock(w.paulista, w.shirt, 10)
    for _ in range(3):
        w.make_order([(w.shirt, 1)])
    return w


def test_managers_and_admins_see_the_page(client, admin_user, manager_user, world):
    for user in (admin_user, manager_user):
        client.force_login(user)
        resp = client.get(reverse("routing:whatif"))
        assert resp.status_code == 200
        assert 'data-testid="whatif-form"' in resp.content.decode()


def test_store_staff_and_customer_service_get_403(client, store_user, cs_user, admin_user, world):
    run = whatif_run_start(by=admin_user, channel=None, days=7, draft_values={"allowed_kinds": ["dc"]})
    for user in (store_user, cs_user):
        client.force_login(user)
        assert client.get(reverse("routing:whatif")).status_code == 403
        assert client.post(reverse("routing:whatif"), GOOD).status_code == 403
        assert client.get(reverse("routing:whatif_detail", args=[run.pk])).status_code == 403
    assert WhatIfRun.objects.count() == 1


def test_anonymous_users_are_sent_to_log_in(client):
    resp = client.get(reverse("routing:whatif"))
    assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]


def test_the_form_starts_from_a_live_policy(client, admin_user, world):
    client.force_login(admin_user)
    html = client.get(reverse("routing:whatif") + f"?from={world.channel.code}").content.decode()
    assert f'<option value="{world.channel.code}" selected>' in html
    assert 'name="split_penalty" value="5.00"' in html
    assert 'name="use_forecast" id="id_use_forecast" checked' in html  # the default policy weighs it


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"days": "0"}, "days"),
        ({"days": "91"}, "days"),
        ({"days": "many"}, "days"),
        ({"allowed_kinds": []}, "allowed_kinds"),
        ({"allowed_kinds": ["moon"]}, "allowed_kinds"),
        ({"store_walkin_share": "2"}, "store_walkin_share"),
        ({"max_packages": "0"}, "max_packages"),
        ({"speed_value": "-1"}, "speed_value"),
        ({"paused_locations": "LJ-SP-01 NOPE-99"}, "paused_locations"),
        ({"channel": "999999"}, "channel"),
    ],
)
def test_bad_input_shows_errors_and_starts_nothing(client, manager_user, world, changes, field):
    client.force_login(manager_user)
    resp = client.post(reverse("routing:whatif"), {**GOOD, **changes})
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'data-testid="whatif-errors"' in html
    assert resp.context["form"].errors.get(field)
    assert not WhatIfRun.objects.exists()


def test_a_manager_cannot_pick_a_channel_outside_the_scope(client, manager_user, world):
    client.force_login(manager_user)  # manages no channel
    resp = client.post(reverse("routing:whatif"), {**GOOD, "channel": str(world.channel.pk)})
    assert resp.context["form"].errors.get("channel")
    assert not WhatIfRun.objects.exists()


def test_starting_redirects_to_the_run_which_polls_until_done(client, manager_user, world):
    assign_perm("orders.manage_channel", manager_user, world.channel)
    client.force_login(manager_user)
    resp = client.post(reverse("routing:whatif"), {**GOOD, "channel": str(world.channel.pk)})
    run = WhatIfRun.objects.get()
    assert resp.status_code == 302 and resp["Location"] == reverse("routing:whatif_detail", args=[run.pk])
    assert (
        run.created_by == manager_user
        and run.channel == world.channel
        and run.draft["allowed_kinds"] == ["dc"]
        and run.draft["use_forecast"] is True
    )
    url = reverse("routing:whatif_detail", args=[run.pk])
    html = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in html and "<progress" in html
    partial = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and 'hx-trigger="every 1s"' in partial
    tasks.whatif_run.apply(args=(run.pk,))
    done = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in done  # polling stops
    assert 'data-testid="whatif-comparison"' in done and 'data-testid="whatif-chart"' in done
    assert 'data-metric="cost_per_order"' in done and 'data-bar="draft"' in done
    assert 'data-testid="whatif-footnote"' in done


def test_a_failed_run_shows_its_error(client, admin_user, world):
    run = whatif_run_start(by=admin_user, channel=None, days=7, draft_values={"allowed_kinds": ["dc"]})
    WhatIfRun.objects.filter(pk=run.pk).update(status=WhatIfStatus.FAILED, error="engine exploded")
    client.force_login(admin_user)
    html = client.get(reverse("routing:whatif_detail", args=[run.pk])).content.decode()
    assert 'data-testid="whatif-error"' in html and "engine exploded" in html


def test_a_manager_sees_only_their_own_runs(client, manager_user, admin_user, world):
    theirs = whatif_run_start(by=admin_user, channel=None, days=7, draft_values={"allowed_kinds": ["dc"]})
    client.force_login(manager_user)
    assert client.get(reverse("routing:whatif_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("routing:whatif_detail", args=[999999])).status_code == 404
    assert 'data-testid="whatif-runs"' not in client.get(reverse("routing:whatif")).content.decode()
    client.force_login(admin_user)
    assert client.get(reverse("routing:whatif_detail", args=[theirs.pk])).status_code == 200


def test_list_page_query_count(client, admin_user, manager_user, world, django_assert_max_num_queries):
    assign_perm("orders.manage_channel", manager_user, world.channel)
    for user in (admin_user, manager_user):
        for days in (1, 2, 3, 4, 5, 6):  # more runs must not mean more queries
            run = whatif_run_start(
                by=user, channel=world.channel, days=days, draft_values={"allowed_kinds": ["dc"]}
            )
            if days % 2:
                tasks.whatif_run.apply(args=(run.pk,))
    client.force_login(admin_user)
    with django_assert_max_num_queries(10):
        resp = client.get(reverse("routing:whatif"))
    assert resp.status_code == 200 and resp.content.decode().count("/routing/whatif/") >= 12
    client.force_login(manager_user)
    with django_assert_max_num_queries(14):
        resp = client.get(reverse("routing:whatif"))
    assert resp.status_code == 200


def test_detail_page_query_count(client, admin_user, world, django_assert_max_num_queries):
    run = whatif_run_start(
        by=admin_user, channel=world.channel, days=7, draft_values={"allowed_kinds": ["dc"]}
    )
    tasks.whatif_run.apply(args=(run.pk,))
    client.force_login(admin_user)
    with django_assert_max_num_queries(8):
        resp = client.get(reverse("routing:whatif_detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert resp.status_code == 200
