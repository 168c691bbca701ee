"""Users, roles, scopes, API keys, audit log (mounted at /access/): the `access` app's URLs.

Included by dotted path so that `oms` imports no app; the namespace comes from `access/urls.py`.
"""

from django.urls import URLResolver, include, path

urlpatterns: list[URLResolver] = [path("", include("access.urls"))]
