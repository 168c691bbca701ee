"""REST endpoints of the inventory app, mounted under /api/v1/ (namespace "api")."""

from django.urls import URLPattern, path

from . import events, views

urlpatterns: list[URLPattern] = [
    path("locations/", views.LocationListView.as_view(), name="location-list"),
    path("products/", views.ProductListView.as_view(), name="product-list"),
    path("stock/adjustments/", views.StockAdjustmentBulkView.as_view(), name="stock-adjustments"),
    path("stock/<str:location>/<str:sku>/", views.StockDetailView.as_view(), name="stock-detail"),
    path("demand-events/", events.DemandEventListView.as_view(), name="demand-event-list"),
    path("demand-events/<str:pk>/", events.DemandEventDetailView.as_view(), name="demand-event-detail"),
    path("transfers/", views.TransferListView.as_view(), name="transfer-list"),
    path("transfers/<str:number>/", views.TransferDetailView.as_view(), name="transfer-detail"),
    path("transfers/<str:number>/<str:action>/", views.TransferActionView.as_view(), name="transfer-action"),
]
