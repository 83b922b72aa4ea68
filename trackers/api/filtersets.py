"""The API's small filters for steps and step trackers (trackers use TrackerFilterSet),
and how Id-list filters look in the OpenAPI schema."""

from __future__ import annotations

import django_filters
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.plumbing import build_parameter_type

from trackers.choices import StepTrackerState
from trackers.filtersets import SalesforceIdListFilter
from trackers.models import ActionCadenceStep, ActionCadenceStepTracker


class StepFilterSet(django_filters.FilterSet):
    cadence = SalesforceIdListFilter(
        field_name="action_cadence__sf_id", lookup_expr="in", label="Cadence Ids"
    )

    class Meta:
        model = ActionCadenceStep
        fields: list[str] = []


class StepTrackerFilterSet(django_filters.FilterSet):
    tracker = SalesforceIdListFilter(
        field_name="action_cadence_tracker__sf_id", lookup_expr="in", label="Tracker Ids"
    )
    state = django_filters.MultipleChoiceFilter(choices=StepTrackerState.choices, label="State")

    class Meta:
        model = ActionCadenceStepTracker
        fields: list[str] = []


class SalesforceIdListFilterSchema(DjangoFilterExtension):
    """Id-list filters (method-based ones included) are comma-separated 15/18-char Ids."""

    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        if not isinstance(filter_field, SalesforceIdListFilter):
            return super().resolve_filter_field(
                auto_schema, model, filterset_class, field_name, filter_field
            )
        return [
            build_parameter_type(
                name=field_name,
                required=False,
                location="query",
                description=f"{filter_field.label}: comma-separated 15- or 18-character Ids.",
                schema={"type": "string", "pattern": r"^[a-zA-Z0-9,\s]*$"},
            )
        ]
