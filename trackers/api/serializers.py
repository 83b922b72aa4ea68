"""API serializers. Output keys are the registry's Salesforce API names.

Nothing here restates field metadata: an ``SObjectSerializer`` asks the registry
for its model's fields, reads values with ``FieldSpec.json_value``, accepts
input only for fields the registry marks createable/updateable, and documents
each field in the OpenAPI schema from the same spec (``RegistryFieldSchema``).
Relationship summaries (``ActionCadence``, ``Owner``, ``Target``...) ride along
so a list needs no second call; ``select_related()`` names every join they need.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cadence_site import registry, sfid
from cadence_site.registry import FieldSpec
from trackers import lifecycle
from trackers.choices import CompletionDisposition, StepType, values
from trackers.models import (
    ActionCadence,
    ActionCadenceStep,
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
    BulkJob,
)

# One bulk removal marks every tracker Processing in one transaction; past this many, ask
# for a narrower filter (or several requests) rather than hold the rows for minutes.
BULK_REMOVE_MAX = 10_000
SFID_PATTERN = r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$"
# Salesforce's wire format for datetimes (registry.format_datetime), not RFC 3339's.
SF_DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$"
# Attributes that name a record for people, most specific first; str() otherwise.
_NAME_ATTRS = ("name", "step_title", "rule_name")


# What display_name reads on each kind of related record (a User's name is its full name
# or username; a step tracker's str() falls back on its type and State).
DISPLAY_COLUMNS = {
    "User": ("first_name", "last_name", "username"),
    "Group": ("name",),
    "ActionCadence": ("name",),
    "Lead": ("first_name", "last_name"),
    "Contact": ("first_name", "last_name"),
    "Opportunity": ("name",),
    "Invoice": ("document_number",),
    "ActionCadenceStepTracker": ("step_title", "step_type", "state"),
}


def display_name(record: models.Model) -> str:
    for attr in _NAME_ATTRS:
        value = getattr(record, attr, None)
        if value:
            return str(value)
    return str(record)


class RegistryField(serializers.Field):
    """One registry field, read from and written to the whole record (``source="*"``).

    On input a reference takes a 15- or 18-character id of any object it may
    point to and sets that object's column (clearing the others of a polymorphic
    reference); the parent serializer's ``reference_queryset`` decides which
    records may be named, so related lookups go through the same visibility rules.
    """

    def __init__(self, spec: FieldSpec, **kwargs: Any) -> None:
        self.spec = spec
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("label", spec.label)
        super().__init__(source="*", **kwargs)

    def to_representation(self, record: models.Model) -> Any:
        return self.spec.json_value(record)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        spec = self.spec
        if spec.type == "reference":
            return self._reference(data)
        if spec.type == "picklist":
            if not isinstance(data, str) or (
                spec.restricted_picklist and data not in spec.picklist
            ):
                raise serializers.ValidationError(
                    f"Invalid {spec.name} {data!r}; expected one of: {', '.join(spec.picklist)}.",
                    code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                )
            return {spec.attr: data}
        if spec.type == "boolean":
            return {spec.attr: serializers.BooleanField().to_internal_value(data)}
        if spec.type == "int":
            return {spec.attr: serializers.IntegerField().to_internal_value(data)}
        if not isinstance(data, str):
            raise serializers.ValidationError(f"{spec.name} must be a string.", code="INVALID_TYPE")
        if spec.length and len(data) > spec.length:
            raise serializers.ValidationError(
                f"{spec.name} is longer than {spec.length} characters.", code="STRING_TOO_LONG"
            )
        return {spec.attr: data}

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        # A nillable text field sent as null is stored blank when its column is NOT NULL.
        if data is None and self.spec.nillable and self.spec.type in ("string", "textarea"):
            model = self.parent.Meta.model
            if not model._meta.get_field(self.spec.attr).null:
                return True, {self.spec.attr: ""}
        if data is None and self.allow_null:
            return True, dict.fromkeys(self.spec.columns.values() or [self.spec.attr])
        return super().validate_empty_values(data)

    def _reference(self, data: Any) -> dict[str, Any]:
        spec = self.spec
        try:
            record_id = sfid.normalize(data)
        except sfid.InvalidId as error:
            raise serializers.ValidationError(str(error), code="MALFORMED_ID") from None
        for object_name, column in spec.columns.items():
            target = registry.get(object_name)
            if target is None or record_id[:3] != target.key_prefix:
                continue
            found = self.parent.reference_queryset(target.model).filter(sf_id=record_id).first()
            if found is None:
                break
            return {name: found if name == column else None for name in spec.columns.values()}
        raise serializers.ValidationError(
            f"{spec.name}: no such {' or '.join(spec.reference_to)} {record_id}.",
            code="INVALID_CROSS_REFERENCE_KEY",
        )


class RegistryFieldSchema(OpenApiSerializerFieldExtension):
    """Documents a RegistryField from its spec: type, picklist values, id and date formats."""

    target_class = RegistryField

    def get_name(self) -> str | None:
        """Restricted picklists become one named enum per object and field, e.g.
        ActionCadenceTrackerStateEnum (StepType appears under two names otherwise)."""
        spec: FieldSpec = self.target.spec
        if spec.type == "picklist" and spec.restricted_picklist:
            return f"{registry.for_model(self.target.parent.Meta.model).name}{spec.name}Enum"
        return None

    def map_serializer_field(self, auto_schema, direction):
        spec: FieldSpec = self.target.spec
        schema: dict[str, Any] = {"type": "string"}
        if spec.type in ("id", "reference"):
            schema["pattern"] = SFID_PATTERN
            if spec.reference_to:
                schema["description"] = f"Id of {' or '.join(spec.reference_to)}"
        elif spec.type == "datetime":
            schema["pattern"] = SF_DATETIME_PATTERN
            schema["example"] = "2026-11-27T12:00:00.000+0000"
        elif spec.type == "date":
            schema["format"] = "date"
        elif spec.type == "boolean":
            schema["type"] = "boolean"
        elif spec.type == "int":
            schema["type"] = "integer"
        elif spec.type == "currency":
            schema["type"] = "number"
        elif spec.type == "picklist" and spec.restricted_picklist:
            schema = {"type": "string", "enum": list(spec.picklist)}
        elif spec.type == "picklist":
            schema["description"] = "Usually one of: " + ", ".join(spec.picklist)
        elif spec.length and direction == "request":
            schema["maxLength"] = spec.length
        return schema


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "readOnly": True,
        "properties": {
            "Id": {"type": "string", "pattern": SFID_PATTERN},
            "Type": {"type": "string", "description": "The referenced object's API name."},
            "Name": {"type": "string"},
        },
        "required": ["Id", "Type", "Name"],
    }
)
class RelatedRecordField(serializers.Field):
    """A reference's record as ``{"Id", "Type", "Name"}``, or null."""

    def __init__(self, spec: FieldSpec) -> None:
        self.spec = spec
        super().__init__(source="*", read_only=True)

    def to_representation(self, record: models.Model) -> dict[str, str] | None:
        for object_name, column in self.spec.columns.items():
            related = getattr(record, column)
            if related is not None:
                return {"Id": related.sf_id, "Type": object_name, "Name": display_name(related)}
        return None


def relationship_key(spec: FieldSpec) -> str:
    return spec.relationship_name or spec.name.removesuffix("Id")


class SObjectSerializer(serializers.Serializer):
    """Every registry field of ``Meta.model`` by API name, plus summaries of the
    references named in ``Meta.relationships``. Registry fields are writable only
    where the registry says createable (on create) or updateable (on update), and
    not listed in ``Meta.read_only_fields``."""

    class Meta:
        model: type[models.Model]
        relationships: tuple[str, ...] = ()
        read_only_fields: tuple[str, ...] = ()

    @classmethod
    def sobject(cls) -> registry.SObjectType:
        return registry.for_model(cls.Meta.model)

    @classmethod
    def select_related(cls) -> list[str]:
        """Every join the output reads, so a list is one query."""
        return cls.sobject().select_related()

    @classmethod
    def only(cls) -> list[str]:
        """Every column the output reads: the record's own, and of each related record its
        Id and (for the summarised ones) what names it. A list of 200 loaded every column
        of a dozen related records per row, most of the time it took."""
        own = [field.name for field in cls.Meta.model._meta.concrete_fields]
        related = []
        summarised = set(getattr(cls.Meta, "relationships", ()))
        for spec in cls.sobject().fields:
            for object_name, column in spec.columns.items():
                related.append(f"{column}__sf_id")
                if spec.name in summarised:
                    related += [f"{column}__{name}" for name in DISPLAY_COLUMNS[object_name]]
        return own + related

    def get_fields(self) -> dict[str, serializers.Field]:
        meta = self.Meta
        creating = self.instance is None
        fields: dict[str, serializers.Field] = {}
        for spec in self.sobject().fields:
            writable = spec.name not in getattr(meta, "read_only_fields", ()) and spec.has(
                "Create" if creating else "Update"
            )
            fields[spec.name] = RegistryField(
                spec,
                read_only=not writable,
                required=writable and creating and not spec.nillable and not spec.has("Defaulted"),
                # System-made records have no CreatedById; inputs are null only if nillable.
                allow_null=spec.nillable or (not writable and spec.type == "reference"),
            )
        for name in getattr(meta, "relationships", ()):
            spec = self.sobject().field(name)
            fields[relationship_key(spec)] = RelatedRecordField(spec)
        fields.update(super().get_fields())
        return fields

    @classmethod
    def api_errors(cls, error: DjangoValidationError) -> serializers.ValidationError:
        """A model's validation error with its fields named by API name (DeveloperName)."""
        names = {}
        for spec in cls.sobject().fields:
            for column in [spec.attr, *spec.columns.values()]:
                names[column] = spec.name
        if not hasattr(error, "error_dict"):
            return serializers.ValidationError(error.messages)
        return serializers.ValidationError(
            {names.get(field, field): messages for field, messages in error.message_dict.items()}
        )

    def reference_queryset(self, model: type[models.Model]) -> models.QuerySet:
        """Records an input reference may name. Trackers: only those the user can read."""
        if model is ActionCadenceTracker:
            return ActionCadenceTracker.objects.visible_to(self.context["request"].user, "read")
        return model._default_manager.all()


# --------------------------------------------------------------------------- trackers


class TrackerSerializer(SObjectSerializer):
    """An ActionCadenceTracker: the seed's 15 fields and the system fields, by API name,
    with its cadence, owner, target, related record and current step summarised."""

    class Meta:
        model = ActionCadenceTracker
        relationships = ("ActionCadenceId", "OwnerId", "TargetId", "RelatedToId", "CurrentStepId")


class StepSerializer(SObjectSerializer):
    """An ActionCadenceStep."""

    class Meta:
        model = ActionCadenceStep


class CadenceSerializer(SObjectSerializer):
    """An ActionCadence with its derived counts (over every live tracker of the cadence,
    like Salesforce's fields of the same names) and its steps."""

    ActiveTargets = serializers.IntegerField(source="active_targets", read_only=True)
    TotalTargets = serializers.IntegerField(source="total_targets", read_only=True)
    SuccessfulCompletions = serializers.IntegerField(
        source="successful_completions", read_only=True
    )
    TotalSteps = serializers.SerializerMethodField()
    Steps = StepSerializer(source="steps.all", many=True, read_only=True)

    class Meta:
        model = ActionCadence
        relationships = ("OwnerId",)

    def get_TotalSteps(self, cadence: ActionCadence) -> int:
        return sum(1 for step in cadence.steps.all() if step.type != StepType.ROOT)


class StepTrackerSerializer(SObjectSerializer):
    """An ActionCadenceStepTracker: one step of one tracker's run."""

    class Meta:
        model = ActionCadenceStepTracker
        relationships = ("ActionCadenceStepId",)


# --------------------------------------------------------------------------- actions


@extend_schema_field({"type": "string", "enum": [*values(CompletionDisposition), None]})
class DispositionField(serializers.CharField):
    """A CompletionDisposition people choose: validated by the lifecycle's own rule."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_null=True, allow_blank=True, **kwargs)

    def to_internal_value(self, data: Any) -> str | None:
        try:
            return lifecycle.validate_disposition(super().to_internal_value(data))
        except lifecycle.LifecycleError as error:
            raise serializers.ValidationError(error.message, code=error.code) from None


class RemoveSerializer(serializers.Serializer):
    completion_disposition = DispositionField(
        help_text="Why the target leaves the cadence (CompletionDisposition)."
    )


class PauseSerializer(serializers.Serializer):
    resume_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When to resume on its own (ScheduledResumeDateTime); must be in the future.",
    )


class BulkRemoveSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.CharField(min_length=15, max_length=18),
        required=False,
        min_length=1,
        max_length=BULK_REMOVE_MAX,
        help_text="Tracker Ids (15 or 18 characters).",
    )
    filter = serializers.DictField(
        required=False,
        help_text="TrackerFilterSet parameters, as for the list (e.g. "
        '{"cadence": ["77C..."], "state": ["Running"]}); applied to the trackers you can edit '
        "that can be removed.",
    )
    completion_disposition = DispositionField()

    def validate_ids(self, ids: list[str]) -> list[str]:
        try:
            return list(dict.fromkeys(sfid.normalize(value) for value in ids))
        except sfid.InvalidId as error:
            raise serializers.ValidationError(str(error), code="MALFORMED_ID") from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError(
                "Give either ids or filter, not both.", code="REQUIRED_FIELD_MISSING"
            )
        return attrs


class BulkJobError(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    errorCode = serializers.CharField()


class BulkJobSerializer(serializers.ModelSerializer):
    processed = serializers.IntegerField(read_only=True)
    errors = BulkJobError(many=True, read_only=True)

    class Meta:
        model = BulkJob
        fields = (
            "id",
            "action",
            "status",
            "completion_disposition",
            "total",
            "succeeded",
            "failed",
            "processed",
            "errors",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields


class GrantSerializer(serializers.Serializer):
    level = serializers.CharField()
    source = serializers.CharField()
    detail = serializers.CharField()


class AccessExplanationSerializer(serializers.Serializer):
    tracker = serializers.CharField(help_text="The tracker's Id.")
    user = serializers.CharField(help_text="The user's Id.")
    username = serializers.CharField()
    level = serializers.CharField(allow_null=True, help_text="Read, Edit, All, or null.")
    grants = GrantSerializer(many=True)


# --------------------------------------------------------------------------- change events


class ChangeEventHeaderSerializer(serializers.Serializer):
    """Documents ``ActionCadenceTrackerChangeEvent.header()``, Salesforce's names as-is."""

    entityName = serializers.CharField()
    recordIds = serializers.ListField(child=serializers.CharField())
    changeType = serializers.CharField()
    changedFields = serializers.ListField(child=serializers.CharField())
    commitTimestamp = serializers.IntegerField(help_text="Epoch milliseconds.")
    commitUser = serializers.CharField()
    transactionKey = serializers.CharField()
    sequenceNumber = serializers.IntegerField()
    changeOrigin = serializers.CharField()

    def to_representation(self, event: ActionCadenceTrackerChangeEvent) -> dict[str, Any]:
        return event.header()


class ChangeEventPayloadSerializer(serializers.Serializer):
    """The ChangeEventHeader plus the changed fields by API name (every field on CREATE)."""

    ChangeEventHeader = ChangeEventHeaderSerializer(source="*")

    def to_representation(self, event: ActionCadenceTrackerChangeEvent) -> dict[str, Any]:
        return {"ChangeEventHeader": event.header(), **event.values}


class ChangeEventSerializer(serializers.Serializer):
    replayId = serializers.IntegerField(source="replay_id")
    payload = ChangeEventPayloadSerializer(source="*")
