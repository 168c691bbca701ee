"""REST endpoints of the orders app, mounted under /api/v1/ (namespace "api")."""

from django.urls import URLPattern, path

from . import returns, views

urlpatterns: list[URLPattern] = [
    path("orders/", views.OrderListCreateView.as_view(), name="order-list"),
    path("orders/bulk/", views.OrderBulkCreateView.as_view(), name="order-bulk"),
    path("orders/<str:number>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:number>/cancel/", views.OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<str:number>/hold/", views.OrderHoldView.as_view(), name="order-hold"),
    path("orders/<str:number>/release/", views.OrderReleaseView.as_view(), name="order-release"),
    path("orders/<str:number>/notes/", views.OrderNoteView.as_view(), name="order-notes"),
    path("orders/<str:number>/address/", views.OrderAddressView.as_view(), name="order-address"),
    path("orders/<str:number>/returns/", returns.OrderReturnsView.as_view(), name="order-returns"),
    path("returns/", returns.ReturnListView.as_view(), name="return-list"),
    path("returns/<str:number>/", returns.ReturnDetailView.as_view(), name="return-detail"),
    path("returns/<str:number>/receive/", returns.ReturnReceiveView.as_view(), name="return-receive"),
    path("returns/<str:number>/refund/", returns.ReturnRefundView.as_view(), name="return-refund"),
    path("returns/<str:number>/cancel/", returns.ReturnCancelView.as_view(), name="return-cancel"),
    path("returns/<str:number>/collect/", returns.ReturnCollectView.as_view(), name="return-collect"),
    path("returns/<str:number>/correct/", returns.ReturnCorrectView.as_view(), name="return-correct"),
    path(
        "returns/<str:number>/send-exchange/",
        returns.ReturnSendExchangeView.as_view(),
        name="return-send-exchange",
    ),
    path("channels/", views.ChannelListView.as_view(), name="channel-list"),
]
