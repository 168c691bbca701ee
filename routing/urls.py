"""Delivery promise, decisions, what-if (mounted at /routing/); namespace "routing"."""

from django.urls import URLPattern

app_name = "routing"
urlpatterns: list[URLPattern] = []
