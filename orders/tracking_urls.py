"""The public tracking page for customers (mounted at /track/); namespace "tracking"."""

from django.urls import URLPattern, path

from . import tracking_views

app_name = "tracking"
urlpatterns: list[URLPattern] = [
    path("<str:token>/", tracking_views.order_tracking, name="order"),
]
