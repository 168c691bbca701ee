"""Delivery promise, decisions, what-if (mounted at /routing/); namespace "routing"."""

from django.urls import URLPattern, path

from . import views

app_name = "routing"
urlpatterns: list[URLPattern] = [
    path("promise/", views.promise_quote, name="promise"),
    path("decisions/<str:number>/", views.decision_detail, name="decision"),
]
urlpatterns += [
    path("whatif/", views.whatif, name="whatif"),
    path("whatif/<int:pk>/", views.whatif_detail, name="whatif_detail"),
]
