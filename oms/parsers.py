"""A JSON parser that refuses bodies above DATA_UPLOAD_MAX_MEMORY_SIZE with a 413 JSON answer.

DRF reads the request stream itself, so Django's own size check never runs for API bodies; without this
a 10 MB body would be parsed whole. It is the API's default parser (REST_FRAMEWORK settings).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class BoundedJSONParser(JSONParser):
    """JSON only, at most `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes, NaN/Infinity refused, never a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        request = (parser_context or {}).get("request")
        meta = getattr(request, "META", {}) if request is not None else {}
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit and length > limit:
            raise RequestTooLarge(
                _("The request body is %(length)s bytes; the limit is %(limit)s.")
                % {"length": length, "limit": limit}
            )
        raw = stream.read(limit + 1) if limit else stream.read()
        if limit and len(raw) > limit:
            raise RequestTooLarge(
                _("The request body is over the limit of %(limit)s bytes.") % {"limit": limit}
            )
        try:
            data = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        # PostgreSQL cannot store a NUL character in text: refuse it here, as bad input. In JSON text a NUL
        # can only be written as the escape \u0000 (a raw control character is refused by the parser), so a
        # body without those six characters needs no walk over its strings (a bulk of 500 orders: 170,000).
        if b"\\u0000" in raw and _has_nul(data):
            raise ParseError("JSON parse error - a string contains a NUL character (\\u0000).")
        return data


def request_data(request: Any) -> Any:
    """`request.data`, with Django's own body-size refusal (when something read the body first) as a 413."""
    try:
        return request.data
    except RequestDataTooBig:
        raise RequestTooLarge(
            _("The request body is over the limit of %(limit)s bytes.")
            % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
        ) from None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def whole_number(text: str | None, *, most: int = 2_147_483_647) -> int | None:
    """`text` (stripped) as a whole number from 0 to `most`, else None. ASCII digits only: `str.isdigit`
    also accepts "²" and other digits `int()` refuses, and `int()` refuses thousands of digits too; every
    id or quantity typed into a page goes through here, so none of that is ever a 500."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(most)):
        return None
    value = int(text)
    return value if value <= most else None
