"""Shared pieces of the REST API: the error format and the exception handler."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .exceptions import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus domain errors (409/400) and Django validation errors (400): never a 500."""
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code, **exc.data}
        if exc.field:
            body = {exc.field: [exc.message], **body}
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        return Response({"detail": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


class ErrorOut(serializers.Serializer):
    """The error body of every refused request (for the OpenAPI schema)."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False)


def model_perm(name: str) -> type[BasePermission]:
    """A permission class: authenticated and holding the model permission `name` (403 otherwise)."""

    class HasModelPerm(BasePermission):
        message = f"You need the permission {name}."

        def has_permission(self, request: Request, view: Any) -> bool:
            return bool(request.user and request.user.is_authenticated and request.user.has_perm(name))

    HasModelPerm.__name__ = f"Has_{name.replace('.', '_')}"
    return HasModelPerm
