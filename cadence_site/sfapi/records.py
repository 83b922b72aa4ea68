"""Records at the edge of the Salesforce-compatible API.

- ``readable(sobject, user)``: the rows of an object a user may read. Trackers
  go through the sharing chokepoint; step trackers and shares follow their
  tracker; the other objects are readable by every API user.
- ``find(sobject, user, raw_id)``: one readable record by id, 404 otherwise.
- ``serialize(...)``: a record as Salesforce returns it, ``attributes`` first.
- ``parse_datetime`` / ``coerce``: values coming in, typed by the registry.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models

from cadence_site import registry, sfid
from cadence_site.registry import FieldSpec, SObjectType
from cadence_site.sfapi.errors import SalesforceError, not_found

STRING_TYPES = frozenset({"string", "textarea", "email", "picklist", "phone", "url"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})


# --------------------------------------------------------------------------- reading


def readable(
    sobject: SObjectType, user: Any, *, include_deleted: bool = False, as_set: bool = False
) -> models.QuerySet:
    """Every record of ``sobject`` that ``user`` can read; soft-deleted ones only when
    asked (getDeleted reports deletions of records the user could read). ``as_set`` for
    a queryset used as a set of ids (``x__in=readable(...).values("pk")``): trackers then
    take the visibility shape that collects a set (sharing.access)."""
    from sharing.access import visible_q
    from sharing.services import manual_shares_visible_to
    from trackers.models import ActionCadenceStepTracker, ActionCadenceTracker

    model = sobject.model
    if model in (ActionCadenceTracker, ActionCadenceStepTracker):
        if model is ActionCadenceStepTracker:
            as_set = True  # the step trackers of a set of trackers
        purpose = "count" if as_set else "page"
        trackers = (
            ActionCadenceTracker.all_objects.filter(visible_q(user, "read", purpose))
            if include_deleted
            else ActionCadenceTracker.objects.visible_to(user, "read", purpose)
        )
        if model is ActionCadenceTracker:
            return trackers
        return model.objects.filter(action_cadence_tracker__in=trackers.values("pk"))
    if sobject.name == "ActionCadenceTrackerShare":
        return manual_shares_visible_to(user)
    queryset = model._default_manager.all()
    soft_deletes = any(field.name == "is_deleted" for field in model._meta.concrete_fields)
    if soft_deletes and not include_deleted:
        queryset = queryset.filter(is_deleted=False)
    return queryset


def get_sobject(name: str) -> SObjectType:
    sobject = registry.get(name)
    if sobject is None:
        raise not_found()
    return sobject


def normalize_id(raw: str, sobject: SObjectType | None = None) -> str:
    """The 18-character id; a malformed one is MALFORMED_ID, another object's is NOT_FOUND."""
    try:
        value = sfid.normalize(raw)
    except sfid.InvalidId:
        raise SalesforceError("MALFORMED_ID", f"Provided id is malformed: {raw}", 400) from None
    if sobject is not None and value[:3] != sobject.key_prefix:
        raise not_found(
            f"Provided id {raw} is not an id of {sobject.name} (key prefix {sobject.key_prefix})."
        )
    return value


def find(
    sobject: SObjectType, user: Any, raw_id: str, queryset: models.QuerySet | None = None
) -> models.Model:
    """One record the user can read, or NOT_FOUND (missing and invisible look the same)."""
    value = normalize_id(raw_id, sobject)
    queryset = readable(sobject, user) if queryset is None else queryset
    record = queryset.filter(sf_id=value).first()
    if record is None:
        raise not_found()
    return record


def record_url(version: str, sobject_name: str, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{sobject_name}/{record_id}"


def attributes(version: str, record: models.Model) -> dict[str, str]:
    sobject = registry.for_model(type(record))
    return {"type": sobject.name, "url": record_url(version, sobject.name, record.sf_id)}


def serialize(
    version: str, sobject: SObjectType, record: models.Model, specs: Iterable[FieldSpec]
) -> dict[str, Any]:
    """A record as retrieve returns it: attributes, then the fields in the order asked."""
    body: dict[str, Any] = {"attributes": attributes(version, record)}
    for spec in specs:
        body[spec.name] = spec.json_value(record)
    return body


def select_related_for(specs: Iterable[FieldSpec]) -> list[str]:
    """The foreign keys reading ``specs`` touches, so a list of records costs one query."""
    return sorted({column for spec in specs for column in spec.columns.values()})


def resolve_fields(sobject: SObjectType, names: Iterable[str]) -> list[FieldSpec]:
    specs = []
    for name in names:
        spec = sobject.field(name.strip())
        if spec is None:
            raise SalesforceError(
                "INVALID_FIELD",
                f"No such column '{name.strip()}' on sobject of type {sobject.name}",
            )
        if spec not in specs:
            specs.append(spec)
    return specs


# --------------------------------------------------------------------------- values coming in

_DATETIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"(?P<zone>Z|[+\- ]\d{2}:?\d{2})?$"
)


def parse_datetime(text: str) -> dt.datetime:
    """ISO 8601 as integrations send it: ``Z``, ``+0000`` or ``+00:00``, with or without
    milliseconds; no zone means UTC. A ``+`` that arrived unencoded in a query string
    (and so became a space) is read back as ``+``."""
    match = _DATETIME.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time")
    zone = (match["zone"] or "Z").replace(" ", "+")
    if zone != "Z" and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    value = dt.datetime.fromisoformat(
        f"{match['date']}T{match['time']}{zone.replace('Z', '+00:00')}"
    )
    return value.astimezone(dt.UTC)


def _type_error(spec: FieldSpec, expected: str, value: Any) -> SalesforceError:
    return SalesforceError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {expected} from value {value!r} for field {spec.name}",
        fields=[spec.name],
    )


def coerce(spec: FieldSpec, value: Any, user: Any) -> Any:
    """A JSON value for ``spec`` as the model takes it (references become records)."""
    if value is None:
        if not spec.nillable:
            raise SalesforceError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{spec.name}]",
                fields=[spec.name],
            )
        return None
    kind = spec.type
    if kind in STRING_TYPES:
        if not isinstance(value, str):
            raise _type_error(spec, "string", value)
        if spec.length and len(value) > spec.length:
            raise SalesforceError(
                "STRING_TOO_LONG",
                f"{spec.name}: data value too large: {value[:40]!r} (max length={spec.length})",
                fields=[spec.name],
            )
        if kind == "picklist" and spec.restricted_picklist and value not in spec.picklist:
            raise SalesforceError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{spec.name}: bad value for restricted picklist field: {value}",
                fields=[spec.name],
            )
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _type_error(spec, "boolean", value)
        return value
    if kind in NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _type_error(spec, "number", value)
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise _type_error(spec, "number", value) from None
        if kind == "int":
            if number != number.to_integral_value():
                raise _type_error(spec, "int", value)
            return int(number)
        return number
    if kind == "date":
        try:
            return dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            raise _type_error(spec, "date", value) from None
    if kind == "datetime":
        try:
            return parse_datetime(value)
        except ValueError:
            raise _type_error(spec, "dateTime", value) from None
    if kind == "reference":
        return resolve_reference(spec, value, user)
    raise SalesforceError(
        "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to set {spec.name}", fields=[spec.name]
    )


def resolve_reference(spec: FieldSpec, value: Any, user: Any) -> models.Model:
    """The record an id points at, among the objects the field refers to, if the user can
    read it. Anything else is INVALID_CROSS_REFERENCE_KEY: whether it exists is not told."""
    invalid = SalesforceError(
        "INVALID_CROSS_REFERENCE_KEY",
        f"{spec.name}: invalid cross reference id",
        fields=[spec.name],
    )
    if not isinstance(value, str):
        raise invalid
    try:
        value = sfid.normalize(value)
    except sfid.InvalidId:
        raise SalesforceError(
            "MALFORMED_ID", f"{spec.name}: id value of incorrect type: {value}", fields=[spec.name]
        ) from None
    for name in spec.reference_to:
        target = registry.get(name)
        if target is not None and target.key_prefix == value[:3]:
            record = readable(target, user).filter(sf_id=value).first()
            if record is not None:
                return record
    raise invalid


def assign(record: models.Model, spec: FieldSpec, value: Any) -> None:
    """Set ``spec`` on a model instance (polymorphic: one column set, the others cleared)."""
    if spec.type != "reference":
        field = record._meta.get_field(spec.attr)
        if value is None and not field.null and isinstance(field, models.CharField):
            value = ""  # nillable in the API, blank in a column that stores "" for nothing
        setattr(record, spec.attr, value)
        return
    chosen = None if value is None else registry.for_model(type(value)).name
    for object_name, column in spec.columns.items():
        setattr(record, column, value if object_name == chosen else None)


def api_name_of(sobject: SObjectType, model_field: str) -> str:
    """The API name behind a model attribute (``share_with_user`` -> ``UserOrGroupId``)."""
    for spec in sobject.fields:
        if model_field == spec.attr or model_field in spec.columns.values():
            return spec.name
    return model_field
