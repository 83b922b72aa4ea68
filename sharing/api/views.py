"""Sharing rules and tracker shares over the DRF API.

Writes go through ``sharing.services`` so the same checks and recalculation run
as in the admin: rules are saved with ``save_rule`` (Rule rows recalculated
inline, or queued when the org is large), Manual shares are made and removed
with ``share_tracker`` / ``remove_share``, which demand All access to the tracker.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response

from sharing import services
from sharing.api.filtersets import ShareFilterSet
from sharing.api.serializers import ShareSerializer, SharingRuleSerializer
from sharing.models import ActionCadenceTrackerOwnerSharingRule, ActionCadenceTrackerShare
from trackers.api.errors import ErrorSerializer
from trackers.api.pagination import KeysetPagination
from trackers.api.views import CadenceOpsViewSet

RULE_PERMISSION = "sharing.change_actioncadencetrackerownersharingrule"
RECALCULATION_HEADER = "X-Sharing-Recalculation"


class CanManageSharingRules(permissions.BasePermission):
    """Everyone signed in reads the rules; superusers and holders of the change
    permission write them."""

    message = "Changing sharing rules needs the 'change owner sharing rule' permission."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return request.user.is_superuser or request.user.has_perm(RULE_PERMISSION)


_WRITE = {201: SharingRuleSerializer, 400: ErrorSerializer, 403: ErrorSerializer}


@extend_schema_view(
    create=extend_schema(
        description=f"Saves the rule and recalculates its Rule shares; the "
        f"`{RECALCULATION_HEADER}` response header says `inline` or `queued`.",
        responses=_WRITE,
    ),
    update=extend_schema(responses={**_WRITE, 200: SharingRuleSerializer}),
    partial_update=extend_schema(responses={**_WRITE, 200: SharingRuleSerializer}),
    destroy=extend_schema(responses={204: None, 403: ErrorSerializer, 404: ErrorSerializer}),
)
class SharingRuleViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    CadenceOpsViewSet,
):
    """ActionCadenceTrackerOwnerSharingRule: share trackers owned by a group's members."""

    scope = "org"
    queryset = ActionCadenceTrackerOwnerSharingRule.objects.select_related(
        *SharingRuleSerializer.select_related()
    )
    serializer_class = SharingRuleSerializer
    permission_classes = [permissions.IsAuthenticated, CanManageSharingRules]

    def _save(self, serializer: SharingRuleSerializer, status_code: int) -> Response:
        rule = serializer.instance or ActionCadenceTrackerOwnerSharingRule()
        for attr, value in serializer.validated_data.items():
            setattr(rule, attr, value)
        try:
            mode = services.save_rule(rule, actor=self.request.user)
        except DjangoValidationError as error:
            raise SharingRuleSerializer.api_errors(error) from None
        fresh = self.get_queryset().get(pk=rule.pk)
        return Response(
            self.get_serializer(fresh).data,
            status=status_code,
            headers={RECALCULATION_HEADER: mode},
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._save(serializer, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(
            self.get_object(), data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        return self._save(serializer, status.HTTP_200_OK)

    def perform_destroy(self, instance: ActionCadenceTrackerOwnerSharingRule) -> None:
        # The rule's Rule rows go with it (ON DELETE CASCADE): nothing left to recalculate.
        instance.delete()


@extend_schema_view(
    list=extend_schema(summary="Shares of trackers you can read (Manual and Rule rows)"),
    create=extend_schema(
        summary="Share a tracker (Manual row; needs All access)",
        description="Creates the Manual share of ParentId with UserOrGroupId, or changes its "
        "AccessLevel (Read or Edit) if there is one.",
        responses={201: ShareSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
    ),
    destroy=extend_schema(
        summary="Remove a Manual share (needs All access; Rule rows are read-only)",
        responses={
            204: None,
            400: OpenApiResponse(ErrorSerializer, description="Not a Manual row."),
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    ),
)
class ShareViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    CadenceOpsViewSet,
):
    """ActionCadenceTrackerShare rows on trackers the user can read."""

    scope = "tracker"
    tracker_path = "parent"
    queryset = ActionCadenceTrackerShare.objects.select_related(*ShareSerializer.select_related())
    serializer_class = ShareSerializer
    filterset_class = ShareFilterSet
    pagination_class = KeysetPagination

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        share = services.share_tracker(
            data["parent"],
            data["user"] or data["group"],
            data["access_level"],
            actor=request.user,
        )
        fresh = self.get_queryset().get(pk=share.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ActionCadenceTrackerShare) -> None:
        services.remove_share(instance, actor=self.request.user)
