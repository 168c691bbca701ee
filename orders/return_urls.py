"""Return pages (mounted at /returns/, namespace "returns"); a return is started from its order's page."""

from django.urls import URLPattern, path

from . import return_views

app_name = "returns"
urlpatterns: list[URLPattern] = [
    path("", return_views.return_list_view, name="list"),
    path("money.csv", return_views.return_money_export, name="money-export"),
    path("<str:number>/", return_views.return_detail, name="detail"),
    path("<str:number>/<slug:action>/", return_views.return_action, name="action"),
]
