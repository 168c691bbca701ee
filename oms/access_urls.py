"""Users, roles, scopes, API keys, audit log (mounted at /access/); namespace "access"."""

from django.urls import URLPattern

app_name = "access"
urlpatterns: list[URLPattern] = []
