"""Customer-service pages (mounted at /orders/, namespace "orders")."""

from django.urls import URLPattern

app_name = "orders"
urlpatterns: list[URLPattern] = []
