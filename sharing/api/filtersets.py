"""Filters for the share list."""

from __future__ import annotations

import django_filters

from sharing.models import ActionCadenceTrackerShare, RowCause
from trackers.filtersets import SalesforceIdListFilter


class ShareFilterSet(django_filters.FilterSet):
    tracker = SalesforceIdListFilter(
        field_name="parent__sf_id", lookup_expr="in", label="Tracker Ids (ParentId)"
    )
    row_cause = django_filters.MultipleChoiceFilter(choices=RowCause.choices, label="RowCause")

    class Meta:
        model = ActionCadenceTrackerShare
        fields: list[str] = []
