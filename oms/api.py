"""Shared pieces of the REST API: the error format, the exception handler, and fast output serialisation."""

from __future__ import annotations

import functools
import operator
import types
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models.manager import BaseManager
from django.utils.translation import gettext as _
from rest_framework import fields, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.relations import ManyRelatedField, PKOnlyObject, RelatedField
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
        @property
        def message(self) -> str:  # in the caller's language, read when refused
            return _("You need the permission %(name)s.") % {"name": name}

        def has_permission(self, request: Request, view: Any) -> bool:
            return bool(request.user and request.user.is_authenticated and request.user.has_perm(name))

    HasModelPerm.__name__ = f"Has_{name.replace('.', '_')}"
    return HasModelPerm


# --- output serialisation ---------------------------------------------------------------------------------

Representer = Callable[[Any], Any]
_SKIP = object()
# What DRF calls when a source names it (`fields.is_simple_callable`); the fast path hands these to DRF.
_CALLABLES = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, functools.partial)
_NOT_PLAIN = (*_CALLABLES, Mapping)  # an intermediate value of a dotted source that DRF calls or indexes


def _drf_value(field: fields.Field, instance: Any, convert: Representer) -> Any:
    """One field of `Serializer.to_representation` as DRF computes it (`_SKIP`: left out), the attribute
    turned into output by `convert` (the field's compiled conversion, which gives what DRF's would)."""
    try:
        attribute = field.get_attribute(instance)
    except fields.SkipField:
        return _SKIP
    check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
    if check_for_none is None:
        return None
    return convert(attribute)


def _path(attrs: list[str]) -> Callable[[Any], Any]:
    """A reader of a dotted source; `_SKIP` where DRF would call or index an intermediate value."""

    def read(instance: Any) -> Any:
        for attr in attrs[:-1]:
            instance = getattr(instance, attr)
            if isinstance(instance, _NOT_PLAIN):
                return _SKIP
        return getattr(instance, attrs[-1])

    return read


def _converter(field: fields.Field) -> Representer:
    """What turns a non-null attribute into the output: DRF's own method unless plainly equivalent."""
    kind = type(field)
    if kind is fields.CharField:
        return str
    if kind is fields.IntegerField:
        return int
    if kind is fields.FloatField:
        return float
    if isinstance(field, serializers.ListSerializer):
        if kind.to_representation is serializers.ListSerializer.to_representation:
            child = _compiled(field.child)  # type: ignore[arg-type]
            return lambda data: [
                child(item) for item in (data.all() if isinstance(data, BaseManager) else data)
            ]
    elif isinstance(field, serializers.Serializer):
        return _compiled(field)
    return field.to_representation


def _compiled(serializer: serializers.Serializer) -> Representer:
    """`serializer.to_representation`, with each field's lookup and conversion resolved once.

    DRF walks every field through `get_attribute` (a signature check of each value, try/except per level)
    and `to_representation` on every call: for a page of 50 orders that is most of the request. Here a
    field whose source is a plain attribute path is read with `operator.attrgetter`, and char, integer and
    float fields convert with the builtin DRF itself calls. Everything else is DRF's own code: a field or
    serializer that overrides `get_attribute` or `to_representation`, related fields, and any value the fast
    path cannot read plainly (a missing attribute, a related object that does not exist, a callable) goes
    through DRF's per-field logic, so the output is the same (`tests/orders/test_representer.py`).
    """
    if type(serializer).to_representation is not serializers.Serializer.to_representation:
        return serializer.to_representation
    plan: list[tuple[Any, Any, Representer, fields.Field]] = []
    for field in serializer._readable_fields:
        convert = _converter(field)
        plain = type(field).get_attribute is fields.Field.get_attribute and not isinstance(
            field, RelatedField | ManyRelatedField
        )
        if not plain:
            getter: Any = False
        elif len(field.source_attrs) == 1:
            getter = operator.attrgetter(field.source_attrs[0])
        elif field.source_attrs:
            getter = _path(field.source_attrs)
        else:
            getter = None  # source="*": the instance itself
        plan.append((field.field_name, getter, convert, field))

    def represent(instance: Any) -> dict[str, Any]:
        if isinstance(instance, Mapping):  # DRF reads a mapping's keys, not its attributes
            data: dict[str, Any] = serializer.to_representation(instance)
            return data
        out: dict[str, Any] = {}
        for name, getter, convert, field in plan:
            value: Any = _SKIP
            if getter is None:
                value = instance
            elif getter is not False:  # False: the field's own get_attribute
                try:
                    value = getter(instance)
                except (AttributeError, KeyError, ObjectDoesNotExist):  # DRF: null, default, skip or raise
                    value = _SKIP
                if isinstance(value, _CALLABLES):
                    value = _SKIP
            if value is _SKIP:  # not read plainly: DRF's rules for this field
                value = _drf_value(field, instance, convert)
                if value is not _SKIP:
                    out[name] = value
                continue
            out[name] = None if value is None else convert(value)
        return out

    return represent


@functools.cache
def representer(serializer_class: type[serializers.Serializer]) -> Representer:
    """`serializer_class().to_representation`, compiled once per process (see `_compiled`).

    The serializer instance is built once and shared by every request and thread: representation keeps no
    state on it, and building one deep-copies every declared field (dear for nested output shapes).
    """
    return _compiled(serializer_class())
