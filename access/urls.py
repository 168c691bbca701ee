"""Users, roles, scopes, API keys and the audit log (mounted at /access/ through oms/access_urls.py)."""

from django.urls import URLPattern, path

from . import views

app_name = "access"
urlpatterns: list[URLPattern] = [
    path("users/", views.users, name="users"),
    path("users/invite/", views.user_invite, name="invite"),
    path("users/<int:pk>/", views.user_detail, name="user"),
    path("users/<int:pk>/deactivate/", views.user_set_active, {"active": False}, name="deactivate"),
    path("users/<int:pk>/reactivate/", views.user_set_active, {"active": True}, name="reactivate"),
    path("users/<int:pk>/scopes/add/", views.scope_change, {"grant": True}, name="scope-add"),
    path("users/<int:pk>/scopes/remove/", views.scope_change, {"grant": False}, name="scope-remove"),
    path("users/<int:pk>/keys/", views.api_key_issue, name="key-issue"),
    path("users/<int:pk>/keys/<str:prefix>/revoke/", views.api_key_revoke, name="key-revoke"),
    path("audit/", views.audit, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
]
