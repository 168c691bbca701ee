"""REST endpoints of the inventory app, mounted under /api/v1/ (namespace "api")."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
