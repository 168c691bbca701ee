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
