"""Form widgets shared by the apps' pages."""

from __future__ import annotations

from typing import Any

from django import forms


class DateInput(forms.DateInput):
    """The browser's date picker. `<input type="date">` reads and writes ISO dates whatever the page's
    language, so the value is rendered as one: in Django's default, the locale's format (28/11/2026), the
    picker shows blank and the user types the date again."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")
