"""Small template helpers for the dashboards: percentages, sortable headers, query links."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

register = template.Library()

# What a figure shows when there is nothing to divide by or count.
NO_VALUE = "\N{EN DASH}"


@register.filter
def percent(value: float | None, digits: int = 0) -> str:
    """0.4567 → "46%"; None (nothing to divide by) → an en dash."""
    if value is None:
        return NO_VALUE
    return f"{value * 100:.{int(digits)}f}%"


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with ``changes`` applied (None removes a key); the cursor
    always goes, since a new filter or sort starts on the first page."""
    query = context["request"].GET.copy()
    query.pop("cursor", None)
    for key, value in changes.items():
        query.pop(key, None)
        if value not in (None, ""):
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def sort_header(context: dict[str, Any], key: str, label: str) -> str:
    """A column header link that sorts by ``key`` and flips direction on a second click."""
    current = context.get("sort", "")
    active = current.lstrip("-") == key
    descending = current.startswith("-")
    target = key if active and descending else f"-{key}" if active else key
    arrow = ("▼" if descending else "▲") if active else ""
    direction = "descending" if descending else "ascending"
    href = query_with(context, sort=target)
    return format_html(
        '<a href="{}" title="Sort by {}">{}<span aria-hidden="true"> {}</span>{}</a>',
        href,
        label.lower(),
        label,
        arrow,
        format_html('<span class="visually-hidden"> (sorted {})</span>', direction)
        if active
        else "",
    )


@register.filter
def aria_sort(sort: str, key: str) -> str:
    if sort.lstrip("-") != key:
        return ""
    return format_html(' aria-sort="{}"', "descending" if sort.startswith("-") else "ascending")


@register.filter
def thousands(value: int | None) -> str:
    return NO_VALUE if value is None else f"{value:,}"


@register.filter
def capped(value: int | None, cap: int) -> str:
    """A capped count as people read it: 1001 with cap 1000 → "1,000+"."""
    if value is None:
        return NO_VALUE
    return f"{cap:,}+" if value > cap else f"{value:,}"


@register.filter
def bar_width(value: float | None) -> str:
    """A fraction as a CSS width, clamped to 0 to 100%."""
    return f"{max(0.0, min(1.0, value or 0.0)) * 100:.2f}%"
