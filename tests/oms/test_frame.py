"""The frame of the UI: login, logout, password change, navigation by role, language, error pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from oms.roles import Role

PASSWORD = "correct-horse-battery"


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_login_shows_dashboard_and_logout(client, cs_user):
    response = client.post(reverse("login"), {"username": "cs1", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert b'data-testid="dashboard-title"' in response.content
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_wrong_password_is_refused(client, cs_user):
    response = client.post(reverse("login"), {"username": "cs1", "password": "wrong-one"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_lockout_after_repeated_failures(client, cs_user):
    for _ in range(5):
        client.post(reverse("login"), {"username": "cs1", "password": "nope"})
    response = client.post(reverse("login"), {"username": "cs1", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_password_change(client, cs_user):
    client.force_login(cs_user)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Another-Strong-9731",
            "new_password2": "Another-Strong-9731",
        },
    )
    assert response.status_code == 302
    cs_user.refresh_from_db()
    assert cs_user.check_password("Another-Strong-9731")


@pytest.mark.django_db
def test_password_change_rejects_weak_password(client, cs_user):
    client.force_login(cs_user)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "12345", "new_password2": "12345"},
    )
    assert response.status_code == 200
    cs_user.refresh_from_db()
    assert cs_user.check_password(PASSWORD)


@pytest.mark.django_db
def test_navigation_depends_on_role(client, user_by_role):
    client.force_login(user_by_role[Role.ADMIN])
    admin_page = client.get("/").content.decode()
    client.force_login(user_by_role[Role.STORE_STAFF])
    store_page = client.get("/").content.decode()
    assert reverse("admin:index") in admin_page
    assert reverse("admin:index") not in store_page
    client.force_login(user_by_role[Role.MANAGER])
    manager_page = client.get("/").content.decode()
    # planners find safety stock by rule beside replenishment; floor staff do not
    assert f'href="{reverse("inventory:safety")}"' in manager_page
    assert f'href="{reverse("inventory:safety")}"' not in store_page


@pytest.mark.django_db
def test_language_switch_to_english_and_back(client, cs_user):
    client.force_login(cs_user)
    html = client.get("/").content.decode()
    assert "Painel" in html and "Atendimento ao cliente" in html  # pt-BR is the default, role names too
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = client.get("/").content.decode()
    assert "Dashboard" in html and "Customer service" in html
    client.post(reverse("set_language"), {"language": "pt-br", "next": "/"})
    assert "Painel" in client.get("/").content.decode()


@pytest.mark.django_db
def test_friendly_404(client, cs_user):
    client.force_login(cs_user)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "404" in response.content.decode()
    assert reverse("home") in response.content.decode()


def test_friendly_500_needs_no_database(rf):
    from oms.views import error_500

    response = error_500(rf.get("/"))
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


@pytest.mark.django_db
def test_friendly_403(rf, cs_user):
    from oms.views import error_403

    request = rf.get("/")
    request.user = cs_user
    response = error_403(request)
    assert response.status_code == 403
    assert "403" in response.content.decode()


@pytest.mark.django_db
def test_csp_header_is_sent(client):
    response = client.get(reverse("login"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "object-src 'none'" in policy
