"""REST endpoints of the orders app, mounted under /api/v1/ (namespace "api")."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
