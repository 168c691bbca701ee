"""Customer-service pages (mounted at /orders/, namespace "orders")."""

from django.urls import URLPattern, path

from . import return_views, views

app_name = "orders"
urlpatterns: list[URLPattern] = [
    path("", views.order_list_view, name="list"),
    path("<str:number>/", views.order_detail, name="detail"),
    path("<str:number>/returns/new/", return_views.return_new, name="return-new"),
    path("<str:number>/<slug:action>/", views.order_action, name="action"),
]
