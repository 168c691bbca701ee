"""KPI dashboards (mounted at /reporting/); namespace "reporting"."""

from django.urls import URLPattern, path

from . import views

app_name = "reporting"
urlpatterns: list[URLPattern] = [
    path("", views.dashboard, name="dashboard"),
    path("export.csv", views.export, name="export"),
    path("today/", views.today, name="today"),
]
