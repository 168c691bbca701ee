"""Customer-service pages (mounted at /orders/, namespace "orders")."""

from django.urls import URLPattern, path

from . import views

app_name = "orders"
urlpatterns: list[URLPattern] = [
    path("", views.order_list_view, name="list"),
    path("<str:number>/", views.order_detail, name="detail"),
    path("<str:number>/<slug:action>/", views.order_action, name="action"),
]
