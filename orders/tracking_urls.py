"""The public tracking page for customers (mounted at /track/); namespace "tracking"."""

from django.urls import URLPattern

app_name = "tracking"
urlpatterns: list[URLPattern] = []
