"""The one tracker FilterSet: the dashboard list, its CSV export and the DRF API use it.

Parameters are snake_case; values are Salesforce's (picklist values, 15- or
18-character ids). No filter loads a whole table: owners are given by id, not
chosen from a list of every user.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.db.models import Q

from cadence_site import sfid
from trackers.choices import (
    CompletionDisposition,
    CompletionReason,
    RelatedToAttributionType,
    TrackerState,
)
from trackers.models import ActionCadence, ActionCadenceTracker


class SalesforceIdListField(forms.CharField):
    """A comma-separated list of 15- or 18-character ids, normalised to 18."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return []
        try:
            return [sfid.normalize(part) for part in value.split(",") if part.strip()]
        except sfid.InvalidId as error:
            raise forms.ValidationError(str(error)) from None


class SalesforceIdListFilter(django_filters.Filter):
    field_class = SalesforceIdListField


class ListedChoiceIterator(forms.models.ModelChoiceIterator):
    """Choices read with one plain query. Django's iterator() opens a server-side cursor on
    PostgreSQL (DECLARE, FETCH, CLOSE): three round trips for a dozen cadences."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for record in self.queryset.all():
            yield self.choice(record)


class ListedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    iterator = ListedChoiceIterator


class CadenceFilter(django_filters.ModelMultipleChoiceFilter):
    field_class = ListedModelMultipleChoiceField


class UtcDateTimeRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    """ISO 8601 bounds in any offset, compared in UTC (PostgreSQL refuses offsets
    beyond ±15:59, which ISO 8601 allows)."""

    def filter(self, qs, value):
        if value:
            value = slice(
                value.start.astimezone(dt.UTC) if value.start else None,
                value.stop.astimezone(dt.UTC) if value.stop else None,
            )
        return super().filter(qs, value)


class TrackerFilterSet(django_filters.FilterSet):
    # Every filter tests the tracker's own columns or a single-valued relation, so none
    # can repeat a row: no multiple-choice filter adds django-filter's default DISTINCT
    # (which made the capped count a DISTINCT over every column: 221 ms for a rep's
    # Running trackers at 1,000,000 on PostgreSQL).
    cadence = CadenceFilter(
        field_name="action_cadence",
        method="filter_cadence",
        to_field_name="sf_id",
        queryset=ActionCadence.objects.order_by("name"),
        label="Cadence",
        distinct=False,
    )
    owner = SalesforceIdListFilter(method="filter_owner", label="Owner Id (user or queue)")
    state = django_filters.MultipleChoiceFilter(
        choices=TrackerState.choices, label="State", distinct=False
    )
    completion_reason = django_filters.MultipleChoiceFilter(
        choices=CompletionReason.choices, label="Completion reason", distinct=False
    )
    completion_disposition = django_filters.MultipleChoiceFilter(
        choices=CompletionDisposition.choices, label="Disposition", distinct=False
    )
    target_type = django_filters.ChoiceFilter(
        choices=[("Lead", "Lead"), ("Contact", "Contact")],
        method="filter_target_type",
        label="Target type",
    )
    related_to_attribution_type = django_filters.MultipleChoiceFilter(
        choices=RelatedToAttributionType.choices, label="Attribution type", distinct=False
    )
    is_tracker_active = django_filters.BooleanFilter(label="Active")
    created = UtcDateTimeRangeFilter(field_name="created_date", label="Created between")
    modified = UtcDateTimeRangeFilter(
        field_name="last_modified_date", label="Last modified between"
    )

    class Meta:
        model = ActionCadenceTracker
        fields: list[str] = []

    def filter_cadence(self, queryset, name, value: list[ActionCadence]):
        # The choices are looked up by Id (to_field_name); compare by the integer key.
        # The field's validation has fetched the cadences already: their keys go in as
        # literals, not as a subquery, so the planner can use its statistics on them.
        return queryset.filter(action_cadence_id__in=[c.pk for c in value]) if value else queryset

    def filter_owner(self, queryset, name, value):
        if not value:
            return queryset
        users = [item for item in value if item.startswith("005")]
        queues = [item for item in value if item.startswith("00G")]
        return queryset.filter(Q(owner_user__sf_id__in=users) | Q(owner_queue__sf_id__in=queues))

    def filter_target_type(self, queryset, name, value):
        if value == "Lead":
            return queryset.filter(target_lead__isnull=False)
        if value == "Contact":
            return queryset.filter(target_contact__isnull=False)
        return queryset
