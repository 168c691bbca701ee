"""Work queues, pick, pack, ship, hand over, transfers (mounted at /fulfilment/); namespace "fulfilment"."""

from django.urls import URLPattern, path

from . import fulfilment_views as views

app_name = "fulfilment"
urlpatterns: list[URLPattern] = [
    path("", views.queue, name="queue"),
    path("picklist/", views.picklist, name="picklist"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/label/", views.label, name="label"),
    path("<int:pk>/<slug:action>/", views.act, name="act"),
]
