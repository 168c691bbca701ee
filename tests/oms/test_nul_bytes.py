"""A NUL character in a path or a query parameter: a clear refusal, never a database error."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/orders/%00/", "/returns/%00/", "/api/v1/returns/%00/", "/api/v1/orders/1%00/"]
)
def test_a_path_with_a_nul_names_nothing(client, cs_user, path):
    client.force_login(cs_user)
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("query", ["q=ana%00", "status=owed&after=%00", "a%00b=1"])
def test_a_query_parameter_with_a_nul_is_refused_naming_it(client, cs_user, query):
    client.force_login(cs_user)
    response = client.get(f"/orders/?{query}")
    assert response.status_code == 400
    assert "NUL" in response.content.decode()
