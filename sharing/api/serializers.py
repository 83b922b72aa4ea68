"""Sharing rules and share rows, by their Salesforce API names (from the registry)."""

from __future__ import annotations

from sharing.models import ActionCadenceTrackerOwnerSharingRule, ActionCadenceTrackerShare
from trackers.api.serializers import SObjectSerializer


class SharingRuleSerializer(SObjectSerializer):
    """An ActionCadenceTrackerOwnerSharingRule: trackers owned by members of GroupId are
    shared with UserOrGroupId at AccessLevel."""

    class Meta:
        model = ActionCadenceTrackerOwnerSharingRule
        relationships = ("GroupId", "UserOrGroupId")


class ShareSerializer(SObjectSerializer):
    """Share rows; people create Manual rows only (RowCause is set for them)."""

    class Meta:
        model = ActionCadenceTrackerShare
        relationships = ("UserOrGroupId",)
        read_only_fields = ("RowCause",)
