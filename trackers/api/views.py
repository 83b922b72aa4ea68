"""The DRF resource API for trackers, cadences, steps, step trackers, bulk jobs and
the change-event feed.

Every viewset derives from ``CadenceOpsViewSet``, whose ``get_queryset`` is the
API's one visibility chokepoint: each viewset declares how its rows are scoped
(through their tracker, to their requester, or org-wide metadata) and the base
class applies it, so list, detail and every custom action (they all load objects
through ``get_object()`` or ``get_queryset()``) see the same rows. A row the user
cannot read is a 404. State changes go through ``trackers.lifecycle`` with the
request's user as actor; its refusals become the errors described in
``trackers.api.errors``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from cadence_site import sfid
from sharing.access import access_level, explain_access
from sharing.models import User
from trackers import lifecycle
from trackers.api import serializers as s
from trackers.api.errors import ApiError, ErrorSerializer, api_exception_handler
from trackers.api.filtersets import StepFilterSet, StepTrackerFilterSet
from trackers.api.pagination import (
    BulkJobPagination,
    ReplayIdPagination,
    TimelinePagination,
    TrackerPagination,
)
from trackers.choices import ACTIVE_STATES, BulkAction, CompletionDisposition, TrackerState
from trackers.filtersets import TrackerFilterSet
from trackers.models import (
    ActionCadence,
    ActionCadenceStep,
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
    BulkJob,
)

SFID_REGEX = "[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?"

ERRORS = {code: ErrorSerializer for code in (400, 403, 404, 409)}


class CadenceOpsViewSet(viewsets.GenericViewSet):
    """Base of every API viewset: row scope, Id lookups and the error shape.

    Subclasses declare ``scope``:

    - ``"tracker"``: rows the user can read through their tracker (``tracker_path``,
      "" when the model is the tracker), via ``ActionCadenceTracker.objects.visible_to``;
      ``include_deleted_trackers`` keeps rows of soft-deleted trackers (the event feed);
    - ``"requester"``: the user's own rows (``requester_path``); superusers see all;
    - ``"org"``: org-wide metadata every signed-in user reads (cadences, steps, rules).
    """

    scope: str = ""
    tracker_path = ""
    include_deleted_trackers = False
    requester_path = "requested_by"
    lookup_field = "sf_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = SFID_REGEX

    def visible_trackers(self, level: str = "read") -> QuerySet:
        manager = (
            ActionCadenceTracker.all_objects
            if self.include_deleted_trackers
            else ActionCadenceTracker.objects
        )
        return manager.visible_to(self.request.user, level)

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        user = self.request.user
        if self.scope == "tracker":
            if not self.tracker_path:
                return queryset.visible_to(user, "read")
            visible = self.visible_trackers().values("pk")
            return queryset.filter(**{f"{self.tracker_path}__in": visible})
        if self.scope == "requester":
            return queryset if user.is_superuser else queryset.filter(**{self.requester_path: user})
        if self.scope == "org":
            return queryset
        raise ImproperlyConfigured(f"{type(self).__name__} must declare its scope.")

    def get_object(self) -> Any:
        if self.lookup_field == "sf_id":
            try:
                self.kwargs[self.lookup_url_kwarg] = sfid.normalize(
                    self.kwargs[self.lookup_url_kwarg]
                )
            except sfid.InvalidId:
                raise NotFound() from None
        try:
            return super().get_object()
        except Http404:
            # Not DRF's "No <Model> matches the given query.": the same words for every miss.
            raise NotFound() from None

    def get_exception_handler(self):
        return api_exception_handler


# --------------------------------------------------------------------------- trackers


@extend_schema_view(
    list=extend_schema(summary="List trackers (TrackerFilterSet filters, cursor pages)"),
    retrieve=extend_schema(
        summary="Retrieve a tracker", responses={200: s.TrackerSerializer, 404: ErrorSerializer}
    ),
)
class TrackerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CadenceOpsViewSet):
    """ActionCadenceTracker records. They change only through the actions below."""

    scope = "tracker"
    queryset = ActionCadenceTracker.objects.select_related(*s.TrackerSerializer.select_related())
    serializer_class = s.TrackerSerializer
    filterset_class = TrackerFilterSet
    pagination_class = TrackerPagination

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        # Pages read only what the serializer shows; actions keep whole records.
        return queryset.only(*s.TrackerSerializer.only()) if self.action == "list" else queryset

    def _changed(self, tracker: ActionCadenceTracker) -> Response:
        """The tracker as it is now, read back through the user's visibility."""
        fresh = self.get_queryset().filter(pk=tracker.pk).first()
        if fresh is None:
            raise NotFound()
        return Response(self.get_serializer(fresh).data)

    @extend_schema(
        summary="Remove the target from the cadence",
        description="Complete, ManuallyRemoved, with the chosen CompletionDisposition. "
        "Needs Edit access (403 otherwise); 409 if the tracker is already Complete or "
        "Processing.",
        request=s.RemoveSerializer,
        responses={200: s.TrackerSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def remove(self, request: Request, id: str) -> Response:
        tracker = self.get_object()
        params = s.RemoveSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        lifecycle.remove_target(
            tracker,
            actor=request.user,
            disposition=params.validated_data.get("completion_disposition"),
            origin="api remove",
        )
        return self._changed(tracker)

    @extend_schema(
        summary="Pause a Running tracker",
        request=s.PauseSerializer,
        responses={200: s.TrackerSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, id: str) -> Response:
        tracker = self.get_object()
        params = s.PauseSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        lifecycle.pause(
            tracker,
            actor=request.user,
            resume_at=params.validated_data.get("resume_at"),
            origin="api pause",
        )
        return self._changed(tracker)

    @extend_schema(
        summary="Resume a Paused tracker",
        request=None,
        responses={200: s.TrackerSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, id: str) -> Response:
        tracker = self.get_object()
        lifecycle.resume(tracker, actor=request.user, origin="api resume")
        return self._changed(tracker)

    @extend_schema(
        summary="Remove many targets through Processing",
        description="Marks the chosen trackers Processing and queues a background job that "
        "completes them (ManuallyRemoved). Give `ids` or `filter`. Trackers that are missing, "
        "not editable or not removable are reported in the job's errors. Follow progress at "
        "/api/bulk-jobs/{id}/.",
        request=s.BulkRemoveSerializer,
        responses={202: s.BulkJobSerializer, 400: ErrorSerializer},
    )
    @action(detail=False, methods=["post"], url_path="bulk-remove")
    def bulk_remove(self, request: Request) -> Response:
        params = s.BulkRemoveSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        if "ids" in data:
            found = dict(
                self.get_queryset().filter(sf_id__in=data["ids"]).values_list("sf_id", "pk")
            )
            pks = list(found.values())
            missing = [
                {"id": value, "message": "No such tracker.", "errorCode": "NOT_FOUND"}
                for value in data["ids"]
                if value not in found
            ]
        else:
            pks = self._filtered_removable(data["filter"])
            missing = []
        if len(pks) > s.BULK_REMOVE_MAX:
            raise ApiError(
                f"More than {s.BULK_REMOVE_MAX:,} trackers match; narrow the filter or send "
                "several requests.",
                "LIMIT_EXCEEDED",
                status.HTTP_400_BAD_REQUEST,
            )
        if not pks:
            raise ApiError(
                "None of these trackers exist or can be removed by you.",
                "NOT_FOUND" if missing else "REQUIRED_FIELD_MISSING",
                status.HTTP_400_BAD_REQUEST,
            )
        # One transaction: the worker cannot pick the job up before its errors are complete.
        with transaction.atomic():
            job = lifecycle.start_bulk(
                BulkAction.REMOVE,
                pks,
                actor=request.user,
                disposition=data.get("completion_disposition"),
            )
            if missing:
                job.errors = missing + list(job.errors)
                job.failed += len(missing)
                BulkJob.objects.filter(pk=job.pk).update(errors=job.errors, failed=job.failed)
        return Response(
            s.BulkJobSerializer(job, context=self.get_serializer_context()).data,
            status=status.HTTP_202_ACCEPTED,
            headers={
                "Location": reverse("api:bulk-job-detail", kwargs={"id": job.pk}, request=request)
            },
        )

    def _filtered_removable(self, params: dict[str, Any]) -> list[int]:
        query = QueryDict(mutable=True)
        for key, value in params.items():
            values = value if isinstance(value, list) else [value]
            query.setlist(
                key, [str(item).lower() if isinstance(item, bool) else str(item) for item in values]
            )
        editable = self.visible_trackers("edit").filter(
            state__in=lifecycle.BULK_SOURCE_STATES[BulkAction.REMOVE]
        )
        filterset = TrackerFilterSet(data=query, queryset=editable, request=self.request)
        if not filterset.is_valid():
            raise ApiError(
                "Invalid filter: "
                + "; ".join(
                    f"{key}: {' '.join(errors)}" for key, errors in filterset.errors.items()
                ),
                "INVALID_FIELD",
                status.HTTP_400_BAD_REQUEST,
            )
        return list(
            filterset.qs.order_by("pk").values_list("pk", flat=True)[: s.BULK_REMOVE_MAX + 1]
        )

    @extend_schema(
        summary="Explain who has access to a tracker, and why",
        description="For yourself by default. Asking about another user needs All access to "
        "the tracker (owner, a role above the owner, administrators).",
        parameters=[
            OpenApiParameter(
                "user",
                OpenApiTypes.STR,
                description="Username or User Id (default: you).",
            )
        ],
        responses={200: s.AccessExplanationSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
    )
    @action(detail=True, methods=["get"])
    def access(self, request: Request, id: str) -> Response:
        tracker = self.get_object()
        subject = self._user_named(request.query_params.get("user"))
        if subject.pk != request.user.pk and access_level(request.user, tracker) != "all":
            raise ApiError(
                "Only users with All access to this tracker can explain another user's access.",
                "INSUFFICIENT_ACCESS_OR_READONLY",
                status.HTTP_403_FORBIDDEN,
            )
        level = access_level(subject, tracker)
        return Response(
            {
                "tracker": tracker.sf_id,
                "user": subject.sf_id,
                "username": subject.username,
                "level": level.capitalize() if level else None,
                "grants": explain_access(subject, tracker),
            }
        )

    def _user_named(self, name: str | None) -> User:
        if not name:
            return self.request.user
        try:
            found = User.objects.filter(sf_id=sfid.normalize(name, "005")).first()
        except sfid.InvalidId:
            found = None
        found = found or User.objects.filter(username=name).first()
        if found is None:
            raise ApiError(f"No user {name!r}.", "NOT_FOUND", status.HTTP_404_NOT_FOUND)
        return found


class BulkJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CadenceOpsViewSet):
    """Progress of bulk work: total, succeeded, failed, status and per-tracker errors.
    Only the user who asked for a job (or a superuser) sees it."""

    scope = "requester"
    queryset = BulkJob.objects.all()
    serializer_class = s.BulkJobSerializer
    lookup_field = "pk"
    lookup_value_regex = r"\d+"
    pagination_class = BulkJobPagination


# --------------------------------------------------------------------------- cadences and steps


def _tracker_count(**conditions: Any) -> Coalesce:
    """A per-cadence count of live trackers as a correlated subquery (index on cadence, state)."""
    counted = (
        ActionCadenceTracker.objects.filter(action_cadence=OuterRef("pk"), **conditions)
        .order_by()
        .values("action_cadence")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


class CadenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CadenceOpsViewSet):
    """ActionCadence records with their steps and derived counts (read-only)."""

    scope = "org"
    queryset = (
        ActionCadence.objects.select_related(*s.CadenceSerializer.select_related())
        .prefetch_related(
            Prefetch(
                "steps",
                queryset=ActionCadenceStep.objects.select_related(
                    *s.StepSerializer.select_related()
                ),
            )
        )
        .annotate(
            active_targets=_tracker_count(state__in=ACTIVE_STATES),
            total_targets=_tracker_count(),
            successful_completions=_tracker_count(
                state=TrackerState.COMPLETE, completion_disposition=CompletionDisposition.SUCCESS
            ),
        )
    )
    serializer_class = s.CadenceSerializer


class StepViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CadenceOpsViewSet):
    """ActionCadenceStep records (read-only); filter by cadence."""

    scope = "org"
    queryset = ActionCadenceStep.objects.select_related(*s.StepSerializer.select_related())
    serializer_class = s.StepSerializer
    filterset_class = StepFilterSet


class StepTrackerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CadenceOpsViewSet):
    """ActionCadenceStepTracker records of trackers you can read (read-only)."""

    scope = "tracker"
    tracker_path = "action_cadence_tracker"
    queryset = ActionCadenceStepTracker.objects.select_related(
        *s.StepTrackerSerializer.select_related()
    )
    serializer_class = s.StepTrackerSerializer
    filterset_class = StepTrackerFilterSet
    pagination_class = TimelinePagination


@extend_schema_view(
    list=extend_schema(
        summary="Tracker change events after a replay id",
        description="ActionCadenceTrackerChangeEvent rows in replay order, for the trackers "
        "you can read now (deleted ones included, so DELETE events arrive). Poll `next`.",
    )
)
class ChangeEventViewSet(mixins.ListModelMixin, CadenceOpsViewSet):
    scope = "tracker"
    tracker_path = "tracker"
    include_deleted_trackers = True
    queryset = ActionCadenceTrackerChangeEvent.objects.all()
    serializer_class = s.ChangeEventSerializer
    pagination_class = ReplayIdPagination
