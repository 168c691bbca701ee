"""Work queues, pick, pack, ship, hand over, transfers (mounted at /fulfilment/); namespace "fulfilment"."""

from django.urls import URLPattern

app_name = "fulfilment"
urlpatterns: list[URLPattern] = []
