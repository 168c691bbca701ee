"""REST endpoints of routing: the delivery promise."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..services.promise import delivery_promise
from .serializers import PromiseRequestSerializer, PromiseResponseSerializer


def resolve_point(cep: str, lat: float | None, lon: float | None) -> tuple[float, float] | None:
    """The destination's coordinates: the ones given, or the centre of the CEP's city."""
    if lat is not None and lon is not None:
        return lat, lon
    try:
        from oms.cep import cep_to_point
    except ImportError:  # pragma: no cover - the CEP module ships with oms
        return None
    return cep_to_point(cep)


class PromiseView(APIView):
    """POST a cart and a destination; get the home and pickup options the OMS can keep right now."""

    @extend_schema(request=PromiseRequestSerializer, responses={200: PromiseResponseSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = PromiseRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        point = resolve_point(data["cep"], data.get("lat"), data.get("lon"))
        if point is None:
            return Response(
                {"lat": [_("lat/lon required: the CEP could not be placed.")]}, status.HTTP_400_BAD_REQUEST
            )
        channel = data.get("channel")
        promise = delivery_promise(
            lines=[(line["product"], line["qty"]) for line in data["lines"]],
            cep=data["cep"],
            lat=point[0],
            lon=point[1],
            channel_id=channel.pk if channel else None,
        )
        out = {
            "cep": data["cep"],
            "lat": point[0],
            "lon": point[1],
            "currency": "BRL",
            "home": promise.home,
            "pickup": promise.pickup,
            "computed_ms": round(promise.computed_ms, 2),
        }
        return Response(PromiseResponseSerializer(out).data)
