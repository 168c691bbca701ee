"""REST endpoints of the orders app, mounted under /api/v1/ (namespace "api")."""

from django.urls import URLPattern, path

from . import views

urlpatterns: list[URLPattern] = [
    path("orders/", views.OrderListCreateView.as_view(), name="order-list"),
    path("orders/bulk/", views.OrderBulkCreateView.as_view(), name="order-bulk"),
    path("orders/<str:number>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:number>/cancel/", views.OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<str:number>/hold/", views.OrderHoldView.as_view(), name="order-hold"),
    path("orders/<str:number>/release/", views.OrderReleaseView.as_view(), name="order-release"),
    path("orders/<str:number>/notes/", views.OrderNoteView.as_view(), name="order-notes"),
    path("orders/<str:number>/address/", views.OrderAddressView.as_view(), name="order-address"),
    path("channels/", views.ChannelListView.as_view(), name="channel-list"),
]
