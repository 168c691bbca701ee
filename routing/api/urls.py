"""REST endpoints of the routing app, mounted under /api/v1/ (namespace "api")."""

from django.urls import URLPattern, path

from .views import PromiseView

urlpatterns: list[URLPattern] = [
    path("promise/", PromiseView.as_view(), name="promise"),
]
