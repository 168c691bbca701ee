"""KPI dashboards and exports (mounted at /reporting/); namespace "reporting"."""

from django.urls import URLPattern

app_name = "reporting"
urlpatterns: list[URLPattern] = []
