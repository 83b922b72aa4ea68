"""Create, update and delete through ``sobjects/{Object}[/{id}]``.

The body's keys are API names, checked against the registry: a field must be
declared Create (POST) or Update (PATCH). Each object's ``Writer`` decides who
may write and which service does it: sharing rules and manual shares go through
``sharing.services``, a tracker is deleted by the lifecycle, the rest is saved
after model validation, by administrators (superusers or users with the
model's Django permission).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction

from cadence_site import registry
from cadence_site.registry import SObjectType
from cadence_site.sfapi import records
from cadence_site.sfapi.errors import SalesforceError, from_service

# API name -> model-ready value (references already resolved to records).
Values = dict[str, Any]

_CODE_BY_DJANGO_CODE = {
    "unique": "DUPLICATE_VALUE",
    "unique_together": "DUPLICATE_VALUE",
    "max_length": "STRING_TOO_LONG",
    "blank": "REQUIRED_FIELD_MISSING",
    "null": "REQUIRED_FIELD_MISSING",
    "required": "REQUIRED_FIELD_MISSING",
    "invalid_choice": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
}


def parse_body(sobject: SObjectType, data: Any, user: Any, *, creating: bool) -> Values:
    """The request body as {API name: model-ready value}, or the Salesforce error."""
    if not isinstance(data, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "The request body must be a JSON object.")
    values: Values = {}
    refused = []
    for name, value in data.items():
        if name == "attributes":  # clients echo a record's attributes back; they are not fields
            continue
        spec = sobject.field(name)
        if spec is None:
            raise SalesforceError(
                "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject.name}"
            )
        if not spec.has("Create" if creating else "Update"):
            refused.append(spec.name)
            continue
        values[spec.name] = records.coerce(spec, value, user)
    if refused:
        raise SalesforceError(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to {'create' if creating else 'update'} fields: {', '.join(refused)}. "
            "Check describe for the fields that are "
            f"{'createable' if creating else 'updateable'}.",
            fields=refused,
        )
    if creating:
        missing = [
            spec.name
            for spec in sobject.fields
            if spec.has("Create")
            and not spec.nillable
            and not spec.has("Defaulted")
            and spec.name not in values
        ]
        if missing:
            raise SalesforceError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                fields=missing,
            )
    return values


def validation_error(sobject: SObjectType, error: ValidationError) -> SalesforceError:
    details = (
        error.error_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.error_list}
    )
    found = []
    for field_name, problems in details.items():
        fields = (
            [] if field_name == NON_FIELD_ERRORS else [records.api_name_of(sobject, field_name)]
        )
        for problem in problems:
            code = _CODE_BY_DJANGO_CODE.get(problem.code, "FIELD_INTEGRITY_EXCEPTION")
            message = " ".join(problem.messages)
            prefix = f"{fields[0]}: " if fields else ""
            found.append(SalesforceError(code, prefix + message, fields=fields))
    first, *rest = found
    first.more = rest
    return first


class Writer:
    """The default: model validation, then save; Django model permissions decide who."""

    def __init__(self, sobject: SObjectType) -> None:
        self.sobject = sobject

    def require(self, user: Any, action: str) -> None:
        meta = self.sobject.model._meta
        if user.is_superuser or user.has_perm(f"{meta.app_label}.{action}_{meta.model_name}"):
            return
        verb = {"add": "create", "change": "update", "delete": "delete"}[action]
        raise SalesforceError(
            "INSUFFICIENT_ACCESS_OR_READONLY",
            f"You don't have permission to {verb} {self.sobject.label_plural}.",
        )

    def create(self, user: Any, values: Values) -> models.Model:
        self.require(user, "add")
        record = self.sobject.model()
        self.apply(record, values)
        self.save(record, user)
        return record

    def update(self, user: Any, record: models.Model, values: Values) -> None:
        self.require(user, "change")
        self.apply(record, values)
        self.save(record, user)

    def delete(self, user: Any, record: models.Model) -> None:
        self.require(user, "delete")
        try:
            with transaction.atomic():
                record.delete()
        except (models.ProtectedError, models.RestrictedError) as error:
            blocking = {registry.for_model(type(obj)).name for obj in error.protected_objects}
            raise SalesforceError(
                "DELETE_FAILED",
                f"Cannot delete this {self.sobject.name}: it is referenced by "
                f"{', '.join(sorted(blocking))} records.",
            ) from None

    def apply(self, record: models.Model, values: Values) -> None:
        for name, value in values.items():
            records.assign(record, self.sobject.field(name), value)

    def save(self, record: models.Model, user: Any) -> None:
        if hasattr(record, "stamp"):
            record.stamp(user)
        try:
            record.full_clean()
            with transaction.atomic():
                record.save()
        except ValidationError as error:
            raise validation_error(self.sobject, error) from None
        except IntegrityError as error:
            raise SalesforceError("FIELD_INTEGRITY_EXCEPTION", str(error)) from None


class UserRoleWriter(Writer):
    def apply(self, record: models.Model, values: Values) -> None:
        super().apply(record, values)
        parent = record.parent_role
        while parent is not None:
            if record.pk is not None and parent.pk == record.pk:
                raise SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "ParentRoleId: a role cannot be below itself in the hierarchy.",
                    fields=["ParentRoleId"],
                )
            parent = parent.parent_role


class UserWriter(Writer):
    """Users come from Django; through this API only their role changes."""

    def save(self, record: models.Model, user: Any) -> None:
        # update_fields: the sharing signal recalculates when the role changes.
        record.save(update_fields=["role"])


class SharingRuleWriter(Writer):
    def save(self, record: models.Model, user: Any) -> None:
        from sharing import services

        try:
            services.save_rule(record, actor=user)
        except ValidationError as error:
            raise validation_error(self.sobject, error) from None


class ShareWriter(Writer):
    """Manual shares only, by people with All access to the tracker (the service checks)."""

    def _service_call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        from sharing.services import SharingError

        try:
            return function(*args, **kwargs)
        except SharingError as error:
            raise from_service(error) from None

    def create(self, user: Any, values: Values) -> models.Model:
        from sharing import services
        from sharing.models import RowCause

        if values.get("RowCause", RowCause.MANUAL) != RowCause.MANUAL:
            raise SalesforceError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "RowCause: only Manual shares can be created; Rule shares come from sharing rules.",
                fields=["RowCause"],
            )
        return self._service_call(
            services.share_tracker,
            values["ParentId"],
            values["UserOrGroupId"],
            values["AccessLevel"],
            actor=user,
        )

    def _manual_only(self, share: models.Model) -> None:
        from sharing.models import RowCause

        if share.row_cause != RowCause.MANUAL:
            raise SalesforceError(
                "INVALID_OPERATION",
                f"{share.row_cause} shares are maintained by sharing recalculation and cannot "
                "be changed by hand.",
            )

    def update(self, user: Any, record: models.Model, values: Values) -> None:
        from sharing import services

        self._manual_only(record)
        level = values.get("AccessLevel", record.access_level)
        self._service_call(services.share_tracker, record.parent, record.grantee, level, actor=user)

    def delete(self, user: Any, record: models.Model) -> None:
        from sharing import services

        self._manual_only(record)
        self._service_call(services.remove_share, record, actor=user)


class TrackerWriter(Writer):
    """Trackers are never created or updated here; deleting one is the lifecycle's soft delete."""

    def delete(self, user: Any, record: models.Model) -> None:
        from trackers import lifecycle

        try:
            lifecycle.delete_tracker(record, actor=user, origin="api")
        except lifecycle.LifecycleError as error:
            raise from_service(error) from None


_WRITERS = {
    "ActionCadenceTracker": TrackerWriter,
    "ActionCadenceTrackerOwnerSharingRule": SharingRuleWriter,
    "ActionCadenceTrackerShare": ShareWriter,
    "User": UserWriter,
    "UserRole": UserRoleWriter,
}


def writer_for(sobject: SObjectType) -> Writer:
    return _WRITERS.get(sobject.name, Writer)(sobject)
