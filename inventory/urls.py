"""Stock pages (mounted at /inventory/); namespace "inventory"."""

from django.urls import URLPattern, path

from . import views

app_name = "inventory"
urlpatterns: list[URLPattern] = [
    path("", views.stock, name="stock"),
    path("replenishment/", views.replenishment, name="replenishment"),
    path("replenishment/export.csv", views.replenishment_export, name="replenishment-export"),
    path("<str:location>/<str:sku>/", views.ledger, name="ledger"),
]
