"""REST endpoints of the routing app, mounted under /api/v1/ (namespace "api")."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
