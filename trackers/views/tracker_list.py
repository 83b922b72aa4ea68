"""The tracker list and its CSV export: one FilterSet (the API's), one visible queryset."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views import View
from django.views.generic import TemplateView

from cadence_site import registry
from trackers import dashboards
from trackers.choices import CompletionDisposition
from trackers.filtersets import TrackerFilterSet
from trackers.lifecycle import REMOVABLE_STATES
from trackers.views.base import TrackerScopeMixin, editable_annotation
from trackers.views.paging import SortColumn, paginate

PER_PAGE = 50
COUNT_CAP = dashboards.COUNT_CAP
EXPORT_CHUNK = 2000
CSV_CHUNK_ROWS = 500

SORT_COLUMNS = {
    column.key: column
    for column in (
        # SystemModstamp is indexed (tracker_modstamp); it moves with every change.
        SortColumn("modified", "system_modstamp", "Last changed"),
        SortColumn("created", "created_date", "Created"),
        SortColumn("state", "state", "State"),
        SortColumn("cadence", "action_cadence__name", "Cadence", nullable=True),
        SortColumn("reason", "completion_reason", "Completion reason", nullable=True),
        SortColumn("disposition", "completion_disposition", "Disposition", nullable=True),
        SortColumn("resume", "scheduled_resume_date_time", "Scheduled resume", nullable=True),
    )
}
DEFAULT_SORT = "-modified"
MULTI_CHOICE_FILTERS = (
    "cadence",
    "state",
    "completion_reason",
    "completion_disposition",
    "related_to_attribution_type",
)


def parse_sort(value: str | None) -> tuple[SortColumn, bool, str]:
    """(column, descending, canonical value) from ``?sort=``; unknown keys fall back."""
    value = (value or DEFAULT_SORT).strip()
    descending = value.startswith("-")
    column = SORT_COLUMNS.get(value.lstrip("-"))
    if column is None:
        return parse_sort(DEFAULT_SORT)
    return column, descending, ("-" if descending else "") + column.key


def tracker_filterset(data: Any, visible: QuerySet) -> TrackerFilterSet:
    """The API's FilterSet over the visible trackers, with checkbox widgets for the page."""
    filterset = TrackerFilterSet(data=data, queryset=visible)
    fields = filterset.form.fields
    for name in MULTI_CHOICE_FILTERS:
        fields[name].widget = forms.CheckboxSelectMultiple(choices=fields[name].choices)
    return filterset


def filtered_trackers(filterset: TrackerFilterSet) -> QuerySet | None:
    """The filtered queryset, or None when the filter is invalid: showing or exporting
    everything because one value was mistyped would be worse than showing nothing."""
    if not filterset.is_valid():
        return None
    return filterset.qs


class TrackerListView(TrackerScopeMixin, TemplateView):
    template_name = "trackers/tracker_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        request = self.request
        column, descending, sort = parse_sort(request.GET.get("sort"))
        visible, visible_for_count = self.visible_pair()
        filterset = tracker_filterset(request.GET, visible)
        filtered = filtered_trackers(filterset)
        hidden = None
        page = count = None
        if filtered is not None:
            # The same filter over the same rows in the shape that counts fastest; the few
            # Processing rows are found faster through the State index, as a page would.
            counting = filterset.filter_queryset(visible_for_count)
            if not self.include_processing:
                hidden = dashboards.processing_count(filtered, COUNT_CAP)
            shown = dashboards.dashboard_trackers(
                filtered, include_processing=self.include_processing
            )
            page = paginate(
                shown,
                column,
                descending=descending,
                cursor=request.GET.get("cursor"),
                per_page=PER_PAGE,
                count=lambda _rows: dashboards.capped_count(
                    dashboards.dashboard_trackers(
                        counting, include_processing=self.include_processing
                    ),
                    COUNT_CAP,
                ),
                rows=lambda rows: rows.with_related().annotate(
                    can_edit=editable_annotation(request.user)
                ),
            )
            count = page.count
        query = request.GET.copy()
        query.pop("cursor", None)
        return {
            **super().get_context_data(**kwargs),
            **self.scope_context(hidden),
            "filterset": filterset,
            "form": filterset.form,
            "page": page,
            "count": count,
            "count_cap": COUNT_CAP,
            "sort": sort,
            "sort_columns": SORT_COLUMNS.values(),
            "removable_states": [str(state) for state in REMOVABLE_STATES],
            **_row_fragments(request),
            "filter_query": query.urlencode(),
            "active_filters": _active_filter_count(filterset),
            "has_cursor": bool(request.GET.get("cursor")),
            "nav": "trackers",
        }


def _row_fragments(request: HttpRequest) -> dict[str, Any]:
    """What every row repeats, rendered once: fifty rows of includes, reversed URLs and
    option lists were most of the page's time."""
    options = format_html_join("", '<option value="{}">{}</option>', CompletionDisposition.choices)
    return {
        "disposition_options": format_html('<option value="">(no disposition)</option>{}', options),
        "csrf_input": format_html(
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request)
        ),
        "next_input": format_html(
            '<input type="hidden" name="next" value="{}">', request.get_full_path()
        ),
        # Detail and action URLs are these plus the record's Id (see trackers/urls.py).
        "tracker_url": reverse("dashboard:tracker_list"),
        "cadence_url": reverse("dashboard:cadence_list"),
    }


def _active_filter_count(filterset: TrackerFilterSet) -> int:
    data = filterset.data
    names = [*filterset.form.fields]
    names += [f"{name}_{end}" for name in ("created", "modified") for end in ("after", "before")]
    return sum(1 for name in names if any(value for value in data.getlist(name)))


def _text(value: Any) -> Any:
    return "" if value is None else value


def _boolean(value: Any) -> str:
    return "" if value is None else ("true" if value else "false")


def _datetime(value: dt.datetime | None) -> str:
    """Salesforce's 2026-11-27T12:00:00.000+0000 (``registry.format_datetime``), from the
    C isoformat when the value is UTC already, as the database hands it back."""
    if value is None:
        return ""
    if value.utcoffset() != dt.timedelta(0):
        return registry.format_datetime(value)
    return value.isoformat(timespec="milliseconds")[:-6] + "+0000"


def _number(value: Any) -> Any:
    return "" if value is None else float(value) if isinstance(value, Decimal) else value


CSV_FORMATS = {"boolean": _boolean, "datetime": _datetime, "currency": _number, "double": _number}


class TrackerExportView(TrackerScopeMixin, View):
    """``/trackers/export.csv?<the list's parameters>``: the filtered visible set, streamed,
    with the registry's API names as headers."""

    def get(self, request: HttpRequest) -> HttpResponse:
        filterset = tracker_filterset(request.GET, self.visible_trackers())
        filtered = filtered_trackers(filterset)
        if filtered is None:
            errors = "; ".join(
                f"{name}: {' '.join(messages)}" for name, messages in filterset.errors.items()
            )
            return HttpResponse(
                f"Invalid filter: {errors}\n", status=400, content_type="text/plain"
            )
        sobject = registry.get("ActionCadenceTracker")
        rows = (
            dashboards.dashboard_trackers(filtered, include_processing=self.include_processing)
            .order_by("pk")
            # Plain tuples, a reference as its related record's Id: building a tracker and
            # a dozen related instances per row was most of an export's time.
            .values_list(*(path for paths in _export_paths(sobject) for path in paths))
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(
            self._lines(sobject, rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="ActionCadenceTracker-{stamp}.csv"'
        return response

    @staticmethod
    def _lines(sobject: registry.SObjectType, rows: QuerySet) -> Iterator[str]:
        """The CSV, a few hundred rows per chunk (a chunk per row costs more than the row)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([spec.name for spec in sobject.fields])
        # Where each field's columns sit in a row (one per referenced object for a
        # reference: the first that is set is the value), and how its cell is written.
        cells, start = [], 0
        for spec, paths in zip(sobject.fields, _export_paths(sobject), strict=True):
            cells.append((start, start + len(paths), CSV_FORMATS.get(spec.type, _text)))
            start += len(paths)
        for number, row in enumerate(rows.iterator(chunk_size=EXPORT_CHUNK), 1):
            writer.writerow(
                [
                    write(row[first] if last - first == 1 else _first_set(row[first:last]))
                    for first, last, write in cells
                ]
            )
            if number % CSV_CHUNK_ROWS == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()


def _export_paths(sobject: registry.SObjectType) -> list[tuple[str, ...]]:
    """The queryset paths each field of ``sobject`` reads, in field order."""
    return [
        tuple(f"{column}__sf_id" for column in spec.columns.values())
        if spec.type == "reference"
        else (spec.attr,)
        for spec in sobject.fields
    ]


def _first_set(values: tuple[Any, ...]) -> Any:
    return next((value for value in values if value is not None), None)
