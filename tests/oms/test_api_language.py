"""API errors speak the caller's language (Accept-Language, else the project's pt-BR), like the pages."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_a_bad_key_is_refused_in_the_callers_language():
    client = APIClient()
    auth = {"HTTP_AUTHORIZATION": "Api-Key nope.nope"}
    assert client.get("/api/v1/orders/", **auth).json()["detail"] == "Chave de API inválida."
    english = client.get("/api/v1/orders/", HTTP_ACCEPT_LANGUAGE="en", **auth)
    assert english.status_code == 401 and english.json()["detail"] == "Invalid API key."


def test_a_missing_permission_is_named_in_the_callers_language(client_for, cs_user):
    client = client_for(cs_user)
    refused = client.post("/api/v1/demand-events/", {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Você precisa da permissão inventory.add_demandevent."
    english = client.post("/api/v1/demand-events/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["detail"] == "You need the permission inventory.add_demandevent."
