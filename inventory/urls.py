"""Stock pages (mounted at /inventory/); namespace "inventory"."""

from django.urls import URLPattern, path

from . import event_views, safety_views, transfer_views, views

app_name = "inventory"
urlpatterns: list[URLPattern] = [
    path("", views.stock, name="stock"),
    path("replenishment/", views.replenishment, name="replenishment"),
    path("replenishment/export.csv", views.replenishment_export, name="replenishment-export"),
    path("forecast/", views.forecast, name="forecast"),
    path("forecast/events/", event_views.event_index, name="events"),
    path("forecast/events/new/", event_views.event_edit, name="event-new"),
    path("forecast/events/<int:pk>/", event_views.event_edit, name="event"),
    path("forecast/events/<int:pk>/delete/", event_views.event_delete, name="event-delete"),
    path("transfers/", transfer_views.transfer_index, name="transfers"),
    path("transfers/new/", transfer_views.transfer_new, name="transfer-new"),
    path("transfers/summary/", transfer_views.transfer_summary, name="transfer-summary"),
    path("transfers/<int:pk>/", transfer_views.transfer_detail, name="transfer"),
    path("transfers/<int:pk>/<str:action>/", transfer_views.transfer_act, name="transfer-act"),
    path("safety/", safety_views.safety_rule, name="safety"),
    path("safety/<int:pk>/", safety_views.safety_run, name="safety-run"),
    path("<str:location>/<str:sku>/", views.ledger, name="ledger"),
]
