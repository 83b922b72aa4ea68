"""Pagination that stays fast on a million rows: keyset cursors, never a COUNT.

``KeysetPagination`` orders by one column and the primary key (the tie-break, so
the order is total and stable) and filters past the cursor's (value, pk) pair,
which an index on (column, id) answers directly; unlike DRF's CursorPagination
it needs no OFFSET when many rows share a value (a bulk job stamps hundreds of
trackers with one LastModifiedDate). A page costs two queries whatever its size: the
page's keys, chosen on the narrow filtered table, then only those rows with their joins.

``ReplayIdPagination`` is the change-event feed's: events after a replay id.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param


class KeysetPagination(BasePagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    ordering_query_param = "ordering"
    # The default ordering ("-" for descending) and any others a client may ask for.
    ordering = "-created_date"
    ordering_choices: tuple[str, ...] = ()

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        self.page_size = self._page_size(request)
        self.sort = self._ordering(request)
        column = self.sort.lstrip("-")
        self.column_field = queryset.model._meta.get_field(column)
        cursor = self._decode(request)
        backwards = cursor is not None and cursor[2]
        descending = self.sort.startswith("-") != backwards
        if cursor is not None:
            value, pk = cursor[0], cursor[1]
            past = "lt" if descending else "gt"
            # The plain range (value <= v, or >= v) adds nothing to the OR but lets the
            # database start its index scan at the cursor instead of filtering from the top.
            queryset = queryset.filter(
                Q(**{f"{column}__{past}e": value}),
                Q(**{f"{column}__{past}": value}) | Q(**{column: value, f"pk__{past}": pk}),
            )
        prefix = "-" if descending else ""
        order = (f"{prefix}{column}", f"{prefix}pk")
        # Two queries: the page's keys from the narrow table, then what the rows show for
        # those keys only. As one query (a subquery) PostgreSQL's planner joins the whole
        # filtered table before cutting it to the page once a serializer needs ~12 joins.
        keys = list(queryset.order_by(*order).values_list("pk", flat=True)[: self.page_size + 1])
        page = queryset.filter(pk__in=keys).order_by(*order)
        # The keys are unique already; a filter's DISTINCT (django-filter adds one to choice
        # filters) over wide joined rows would be the slowest part of the request.
        page.query.distinct = False
        more = len(keys) > self.page_size
        rows = (list(page) if keys else [])[: self.page_size]
        if backwards:
            rows.reverse()
        if backwards:
            self.previous_row = rows[0] if rows and more else None
            self.next_row = rows[-1] if rows else None
        else:
            self.next_row = rows[-1] if more else None
            self.previous_row = rows[0] if rows and cursor is not None else None
        return rows

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(
            {
                "next": self._link(self.next_row, backwards=False),
                "previous": self._link(self.previous_row, backwards=True),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = [
            {
                "name": self.cursor_query_param,
                "in": "query",
                "required": False,
                "description": "The cursor of a page, from a previous response's next or previous.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "in": "query",
                "required": False,
                "description": f"Rows per page (default {self.page_size}, at most "
                f"{self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
        if self.ordering_choices:
            parameters.append(
                {
                    "name": self.ordering_query_param,
                    "in": "query",
                    "required": False,
                    "description": f"Sort order (default {self.ordering}); ties go by record "
                    "creation.",
                    "schema": {"type": "string", "enum": list(self.ordering_choices)},
                }
            )
        return parameters

    # ---- helpers

    def _page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError(
                {self.page_size_query_param: ["Must be a positive integer."]}, code="INVALID_FIELD"
            )
        return min(size, self.max_page_size)

    def _ordering(self, request: Request) -> str:
        requested = request.query_params.get(self.ordering_query_param)
        if requested is None:
            return self.ordering
        if requested not in (self.ordering, *self.ordering_choices):
            raise ValidationError(
                {
                    self.ordering_query_param: [
                        f"Unknown ordering {requested!r}; expected one of: "
                        + ", ".join(self.ordering_choices or (self.ordering,))
                        + "."
                    ]
                },
                code="INVALID_FIELD",
            )
        return requested

    def _decode(self, request: Request) -> tuple[Any, int, bool] | None:
        """The (column value, pk, backwards) a cursor points after, for this ordering."""
        token = request.query_params.get(self.cursor_query_param)
        if not token:
            return None
        try:
            padded = token + "=" * (-len(token) % 4)
            sort, raw, pk, backwards = json.loads(base64.urlsafe_b64decode(padded))
            if sort != self.sort or not isinstance(pk, int) or not isinstance(backwards, bool):
                raise ValueError(sort)
            value = self.column_field.to_python(raw)
            if value is None:
                raise ValueError(raw)
            if isinstance(value, dt.datetime):
                # PostgreSQL refuses offsets past ±15:59; the column is compared in UTC anyway.
                value = value.astimezone(dt.UTC)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
            raise ValidationError(
                {self.cursor_query_param: ["Invalid cursor."]}, code="INVALID_FIELD"
            ) from error
        return value, pk, backwards

    def _link(self, row: Any, *, backwards: bool) -> str | None:
        if row is None:
            return None
        raw = self.column_field.value_to_string(row)
        token = json.dumps([self.sort, raw, row.pk, backwards], separators=(",", ":"))
        encoded = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, encoded)


class TrackerPagination(KeysetPagination):
    """Most recently changed first. SystemModstamp is what sync clients follow."""

    ordering = "-last_modified_date"
    ordering_choices = (
        "-last_modified_date",
        "last_modified_date",
        "-created_date",
        "created_date",
        "-system_modstamp",
        "system_modstamp",
    )


class BulkJobPagination(KeysetPagination):
    ordering = "-created_at"


class TimelinePagination(KeysetPagination):
    """Oldest first: step trackers read as the run went."""

    ordering = "created_date"


class ReplayIdPagination(BasePagination):
    """Events after ``?after=<replay id>`` in replay order, ``limit`` at a time.

    ``next`` is where to poll for what comes after this batch (it is there even
    when the batch is short: new events keep arriving); ``hasMore`` says whether
    more were already waiting.
    """

    after_query_param = "after"
    limit_query_param = "limit"
    default_limit = 100
    max_limit = 1000

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        self.after = self._integer(request, self.after_query_param, 0, minimum=0)
        limit = min(
            self._integer(request, self.limit_query_param, self.default_limit, minimum=1),
            self.max_limit,
        )
        events = list(queryset.filter(replay_id__gt=self.after).order_by("replay_id")[: limit + 1])
        self.has_more = len(events) > limit
        events = events[:limit]
        self.last = events[-1].replay_id if events else self.after
        return events

    def get_paginated_response(self, data: list[Any]) -> Response:
        url = self.request.build_absolute_uri()
        return Response(
            {
                "lastReplayId": self.last,
                "hasMore": self.has_more,
                "next": replace_query_param(url, self.after_query_param, self.last),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["lastReplayId", "hasMore", "next", "results"],
            "properties": {
                "lastReplayId": {"type": "integer"},
                "hasMore": {"type": "boolean"},
                "next": {"type": "string", "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.after_query_param,
                "in": "query",
                "required": False,
                "description": "Return events with a replay id greater than this (default 0).",
                "schema": {"type": "integer", "minimum": 0},
            },
            {
                "name": self.limit_query_param,
                "in": "query",
                "required": False,
                "description": f"At most this many events (default {self.default_limit}, at most "
                f"{self.max_limit}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_limit},
            },
        ]

    def _integer(self, request: Request, name: str, default: int, *, minimum: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise ValidationError(
                {name: [f"Must be an integer of at least {minimum}."]}, code="INVALID_FIELD"
            )
        return value
