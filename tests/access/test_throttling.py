"""API rate limits: per API key, per user, per address; a tight rate answers 429."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings

from oms.models import ApiKey

pytestmark = pytest.mark.django_db

SCHEMA = "/api/v1/schema/"


def _tight(**rates: str) -> dict:
    return {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": None, "user": None, "anon": None, **rates},
    }


@pytest.fixture(autouse=True)
def _fresh_buckets():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def one_window(monkeypatch):
    """Every request of the test falls in the same rate window: the counters are per fixed minute, so a test
    whose requests straddled a minute's end would start a fresh count (and see no 429)."""
    from types import SimpleNamespace

    from oms import throttling

    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: 1_800_000_010.0))


def test_per_key_rate_answers_429_and_each_key_has_its_own_bucket(cs_user, one_window):
    _k1, first = ApiKey.objects.create_key(user=cs_user, name="one")
    _k2, second = ApiKey.objects.create_key(user=cs_user, name="two")
    client = Client()
    with override_settings(REST_FRAMEWORK=_tight(api_key="2/min")):
        assert client.get(SCHEMA, HTTP_AUTHORIZATION=f"Api-Key {first}").status_code == 200
        assert client.get(SCHEMA, HTTP_AUTHORIZATION=f"Api-Key {first}").status_code == 200
        refused = client.get(SCHEMA, HTTP_AUTHORIZATION=f"Api-Key {first}")
        assert refused.status_code == 429
        assert int(refused["Retry-After"]) > 0
        assert client.get(SCHEMA, HTTP_AUTHORIZATION=f"Api-Key {second}").status_code == 200


def test_per_user_rate_for_browser_sessions(cs_user, store_user, one_window):
    client, other = Client(), Client()
    client.force_login(cs_user)
    other.force_login(store_user)
    with override_settings(REST_FRAMEWORK=_tight(user="1/min")):
        assert client.get(SCHEMA).status_code == 200
        assert client.get(SCHEMA).status_code == 429
        assert other.get(SCHEMA).status_code == 200


def test_anonymous_rate(db, one_window):
    with override_settings(REST_FRAMEWORK=_tight(anon="1/min")):
        assert Client().get(SCHEMA).status_code == 200
        assert Client().get(SCHEMA).status_code == 429


def test_default_rates_are_configured():
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert set(rates) == {"api_key", "user", "anon"}
    assert "oms.throttling.ApiRateThrottle" in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]


def test_a_key_gets_exactly_its_rate_under_concurrent_requests(cs_user, monkeypatch):
    """The window's counter is incremented atomically: 16 threads racing for 25 places get exactly 25
    (a whole-history entry rewritten by each request, as DRF's own throttle does, loses updates)."""
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from oms import throttling

    key, _secret = ApiKey.objects.create_key(user=cs_user, name="burst")
    request = SimpleNamespace(auth=key, user=cs_user)
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: 1_800_000_010.0))  # one window
    with override_settings(REST_FRAMEWORK=_tight(api_key="25/min")):
        with ThreadPoolExecutor(16) as pool:
            allowed = list(
                pool.map(lambda _: throttling.ApiRateThrottle().allow_request(request, None), range(80))
            )
        refused = throttling.ApiRateThrottle()
        assert refused.allow_request(request, None) is False
        assert refused.wait() == pytest.approx(50.0)  # until the window (…000, …060) ends
    assert allowed.count(True) == 25


def test_an_api_key_request_is_counted_with_the_key_read_in_one_round_trip(cs_user, monkeypatch, one_window):
    """Authentication reads the key's entry and counts the request together; the throttle only reads that
    count (no second call to the cache), and the limit holds exactly."""
    from oms import cache as oms_cache
    from oms import throttling

    calls: list[str] = []
    real = oms_cache.get_many_and_incr
    monkeypatch.setattr(throttling, "incr_expiring", lambda key, timeout: calls.append(key) or 10**9)

    def counting(keys, counter, timeout, **kwargs):
        calls.append("together")
        return real(keys, counter, timeout, **kwargs)

    monkeypatch.setattr("oms.authentication.get_many_and_incr", counting)
    _key, secret = ApiKey.objects.create_key(user=cs_user, name="counted")
    client = Client()
    with override_settings(REST_FRAMEWORK=_tight(api_key="3/min")):
        statuses = [client.get(SCHEMA, HTTP_AUTHORIZATION=f"Api-Key {secret}").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert calls == ["together"] * 4  # never the throttle's own counter (it would have allowed all four)
