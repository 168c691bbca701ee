"""oms.cache: Django's Redis cache with one redis-py client per pool."""

from __future__ import annotations

from django.core.cache import caches

from oms.cache import RedisCache


def test_the_cache_reuses_one_client_and_round_trips():
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    backend = cache._cache
    assert backend.get_client() is backend.get_client(write=True)
    cache.set("oms-cache-test", {"n": 1}, 30)
    assert cache.get_many(["oms-cache-test", "absent"]) == {"oms-cache-test": {"n": 1}}
    cache.delete("oms-cache-test")
    assert cache.get("oms-cache-test") is None


def test_incr_expiring_counts_and_expires_on_redis_and_elsewhere(settings):
    from oms.cache import incr_expiring

    settings.CACHES = {
        **settings.CACHES,
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "incr-test"},
    }
    for alias in ("default", "local"):
        cache = caches[alias]
        cache.delete("oms-counter")
        assert [incr_expiring("oms-counter", 30, alias=alias) for _ in range(3)] == [1, 2, 3]
        assert cache.get("oms-counter") == 3
        cache.delete("oms-counter")
    redis_key = caches["default"].make_and_validate_key("oms-counter")
    incr_expiring("oms-counter", 30)
    assert 0 < caches["default"]._cache.get_client().ttl(redis_key) <= 30  # it expires
    caches["default"].delete("oms-counter")
