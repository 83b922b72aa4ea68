"""Keyset (cursor) pagination for lists that may hold a million trackers.

A page is "the next N rows after this (sort value, pk)", so page 20,000 costs
what page 1 costs: no OFFSET scan, and no COUNT(*) of the whole set (lists show
a capped count, counted once on the first page and carried in the cursor). NULLs
sort last going forward and first going back, so every row is reachable whatever
the column holds.

A page is read in two steps: the keys (pk and sort value) from the tracker table
alone, then the page's rows with their joins. Many trackers can share one sort
value (a bulk job stamps thousands with the same SystemModstamp); sorting those
ties by pk then reads narrow rows, not every joined row of the tie.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet


@dataclass(frozen=True)
class SortColumn:
    """A column the user may sort by: ``field`` is a path on the queryset's model."""

    key: str
    field: str
    label: str
    nullable: bool = False


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None
    previous_cursor: str | None
    count: int | None = None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None


def _encode(value: Any) -> list[Any]:
    if isinstance(value, dt.datetime):
        return ["dt", value.isoformat()]
    return ["v", value]


def _decode(encoded: Any) -> Any:
    kind, value = encoded
    if kind == "dt":
        return dt.datetime.fromisoformat(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError("unexpected cursor value")


@dataclass(frozen=True)
class Cursor:
    direction: str  # "n": the rows after (value, pk); "p": the rows before it
    value: Any
    pk: int
    count: int | None = None  # the list's capped count, carried from its first page


def make_cursor(direction: str, value: Any, pk: int, count: int | None = None) -> str:
    raw = json.dumps([direction, _encode(value), pk, count], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_cursor(cursor: str | None) -> Cursor | None:
    """The position a cursor names, or None for the first page (or a bad cursor)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        direction, value, pk, count = json.loads(raw)
        if direction not in ("n", "p") or not isinstance(pk, int):
            return None
        if count is not None and not isinstance(count, int):
            return None
        return Cursor(direction, _decode(value), pk, count)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None


def _after(column: SortColumn, value: Any, pk: int, ascending: bool) -> Q:
    """Rows strictly after (value, pk) in the order (value NULLS LAST, pk), or its reverse.

    Past a non-null value the OR is also bounded by a plain range on the column
    (value >= v, or <= v going down): it says nothing new, but it is what lets the
    database start the index scan at the cursor. Without it PostgreSQL reads the
    index from the top and filters, so a page deep in a million rows took seconds.
    """
    name = column.field
    if ascending:
        if value is None:
            return Q(**{f"{name}__isnull": True, "pk__gt": pk})
        after = Q(**{f"{name}__gt": value}) | Q(**{name: value, "pk__gt": pk})
        if column.nullable:
            return after | Q(**{f"{name}__isnull": True})
        return Q(**{f"{name}__gte": value}) & after
    if value is None:
        return Q(**{f"{name}__isnull": True, "pk__lt": pk}) | Q(**{f"{name}__isnull": False})
    return Q(**{f"{name}__lte": value}) & (
        Q(**{f"{name}__lt": value}) | Q(**{name: value, "pk__lt": pk})
    )


def _ordered(queryset: QuerySet, column: SortColumn, ascending: bool) -> QuerySet:
    if ascending:
        return queryset.order_by(F(column.field).asc(nulls_last=True), "pk")
    return queryset.order_by(F(column.field).desc(nulls_first=True), "-pk")


def paginate(
    queryset: QuerySet,
    column: SortColumn,
    *,
    descending: bool,
    cursor: str | None,
    per_page: int,
    count: Callable[[QuerySet], int] | None = None,
    rows: Callable[[QuerySet], QuerySet] | None = None,
) -> Page:
    """One page of ``queryset`` sorted by ``column`` (then pk), from ``cursor``.

    ``count(queryset)`` is called on the first page only (and not even there when the
    page holds every row); later pages reuse its answer.
    ``rows(queryset)`` adds what the page shows (select_related, annotations) to the
    second query, which reads only the page's own rows.
    """
    position = read_cursor(cursor)
    forward = position is None or position.direction == "n"
    # Going back, read the rows before the cursor in reverse order, then flip them.
    ascending = (not descending) if forward else descending
    keys_query = _ordered(queryset.annotate(_sort_value=F(column.field)), column, ascending)
    if position is not None:
        keys_query = keys_query.filter(_after(column, position.value, position.pk, ascending))
    keys = list(keys_query.values_list("pk", "_sort_value")[: per_page + 1])
    more = len(keys) > per_page
    keys = keys[:per_page]
    total = position.count if position is not None else None
    if total is None and count is not None:
        # A first page that holds everything has counted itself.
        total = len(keys) if position is None and not more else count(queryset)
    if not forward:
        keys.reverse()
    if not keys:
        return Page(items=[], next_cursor=None, previous_cursor=None, count=total)
    page_rows = queryset.filter(pk__in=[pk for pk, _value in keys])
    loaded = rows(page_rows) if rows is not None else page_rows
    by_pk = {item.pk: item for item in loaded}
    items = [by_pk[pk] for pk, _value in keys if pk in by_pk]
    (first_pk, first_value), (last_pk, last_value) = keys[0], keys[-1]
    has_next = more if forward else True
    has_previous = (position is not None) if forward else more
    return Page(
        items=items,
        next_cursor=make_cursor("n", last_value, last_pk, total) if has_next else None,
        previous_cursor=make_cursor("p", first_value, first_pk, total) if has_previous else None,
        count=total,
    )
