"""The object registry: one declaration per object maps Salesforce API names to
model fields, with the seed's types, properties, picklists and references.

describe, SOQL, serializers, CSV headers, change events and admin columns read
field metadata from here; nothing else restates it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models

# Property names as the seed prints them, and the short words used to declare them.
PROPERTY_WORDS = {
    "Filter": "filterable",
    "Group": "groupable",
    "Nillable": "nillable",
    "Sort": "sortable",
    "Restricted": "restricted_picklist",
    "Defaulted": "defaulted_on_create",
    "Create": "createable",
    "Update": "updateable",
}

ALL_CALLS = frozenset(
    {
        "create",
        "update",
        "delete",
        "describeSObjects",
        "getDeleted",
        "getUpdated",
        "query",
        "retrieve",
    }
)


def format_datetime(value: dt.datetime | None) -> str | None:
    """Salesforce's wire format: 2026-11-27T12:00:00.000+0000 (always UTC)."""
    if value is None:
        return None
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def json_form(
    value: Any, datetime_format: Callable[[dt.datetime], str | None] = format_datetime
) -> Any:
    """A field's value as the API's JSON has it: datetimes in the wire format, dates
    as 2024-03-01, numbers as floats. ``datetime_format``: an equal, faster one."""
    if isinstance(value, dt.datetime):
        return datetime_format(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    attr: str | None = None
    properties: frozenset[str] = frozenset()
    label: str = ""
    length: int = 0
    picklist: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    # For references: referenced object name -> model FK attribute. Polymorphic
    # references (TargetId: Lead or Contact) have one integer column per object.
    columns: dict[str, str] = field(default_factory=dict, hash=False)

    def has(self, prop: str) -> bool:
        return PROPERTY_WORDS.get(prop, prop) in self.properties

    @property
    def filterable(self) -> bool:
        return "filterable" in self.properties

    @property
    def groupable(self) -> bool:
        return "groupable" in self.properties

    @property
    def sortable(self) -> bool:
        return "sortable" in self.properties

    @property
    def nillable(self) -> bool:
        return "nillable" in self.properties

    @property
    def restricted_picklist(self) -> bool:
        return "restricted_picklist" in self.properties

    @property
    def polymorphic(self) -> bool:
        return len(self.reference_to) > 1

    def related_object(self, record: models.Model) -> models.Model | None:
        for column in self.columns.values():
            related = getattr(record, column)
            if related is not None:
                return related
        return None

    def value(self, record: models.Model) -> Any:
        """The API value of this field on ``record`` (references as 18-char ids)."""
        if self.type == "reference":
            related = self.related_object(record)
            return None if related is None else related.sf_id
        return getattr(record, self.attr)

    def json_value(self, record: models.Model) -> Any:
        return json_form(self.value(record))


def F(
    name: str,
    type: str,
    props: str = "",
    *,
    attr: str | None = None,
    label: str = "",
    length: int = 0,
    picklist: Iterable[str] = (),
    to: Iterable[str] | str = (),
    rel: str | None = None,
    columns: dict[str, str] | None = None,
) -> FieldSpec:
    """Declare a field the way the seed prints it.

    ``F("State", "picklist", "Filter Group Restricted Sort", attr="state")``
    """
    properties = frozenset(PROPERTY_WORDS[word] for word in props.split())
    reference_to = (to,) if isinstance(to, str) else tuple(to)
    if type == "reference" and columns is None:
        columns = {reference_to[0]: attr}
    return FieldSpec(
        name=name,
        type=type,
        attr=attr,
        properties=properties,
        label=label or name,
        length=length,
        picklist=tuple(picklist),
        reference_to=reference_to,
        relationship_name=rel,
        columns=columns or {},
    )


SYSTEM_FIELDS = (
    F("Id", "id", "Filter Group Sort Defaulted", attr="sf_id", label="Record ID", length=18),
    F(
        "CreatedDate",
        "datetime",
        "Filter Sort Defaulted",
        attr="created_date",
        label="Created Date",
    ),
    F(
        "CreatedById",
        "reference",
        "Filter Group Sort Defaulted",
        attr="created_by",
        label="Created By ID",
        to="User",
        rel="CreatedBy",
    ),
    F(
        "LastModifiedDate",
        "datetime",
        "Filter Sort Defaulted",
        attr="last_modified_date",
        label="Last Modified Date",
    ),
    F(
        "LastModifiedById",
        "reference",
        "Filter Group Sort Defaulted",
        attr="last_modified_by",
        label="Last Modified By ID",
        to="User",
        rel="LastModifiedBy",
    ),
    F(
        "SystemModstamp",
        "datetime",
        "Filter Sort Defaulted",
        attr="system_modstamp",
        label="System Modstamp",
    ),
    F("IsDeleted", "boolean", "Filter Group Sort Defaulted", attr="is_deleted", label="Deleted"),
)


@dataclass
class SObjectType:
    name: str
    model: type[models.Model]
    label: str
    label_plural: str
    fields: tuple[FieldSpec, ...]
    calls: frozenset[str] = ALL_CALLS
    system_fields: bool = True

    def __post_init__(self) -> None:
        declared = (SYSTEM_FIELDS if self.system_fields else (SYSTEM_FIELDS[0],)) + self.fields
        self.fields = declared
        self._by_name = {spec.name.lower(): spec for spec in declared}
        self._by_relationship = {
            spec.relationship_name.lower(): spec for spec in declared if spec.relationship_name
        }
        unsupported = self.calls - ALL_CALLS
        assert not unsupported, f"{self.name}: unknown calls {unsupported}"

    @property
    def key_prefix(self) -> str:
        return self.model.KEY_PREFIX

    def field(self, name: str) -> FieldSpec | None:
        """Look a field up by API name, case-insensitively as Salesforce does."""
        return self._by_name.get(name.lower())

    def relationship(self, name: str) -> FieldSpec | None:
        return self._by_relationship.get(name.lower())

    def supports(self, call: str) -> bool:
        return call in self.calls

    def select_related(self) -> list[str]:
        """Every FK the registry's reference fields read, for one-query lists."""
        return [column for spec in self.fields for column in spec.columns.values()]

    def to_dict(self, record: models.Model, names: Iterable[str] | None = None) -> dict[str, Any]:
        specs = self.fields if names is None else [self.field(name) for name in names]
        return {spec.name: spec.json_value(record) for spec in specs}


_REGISTRY: dict[str, SObjectType] = {}


def register(sobject: SObjectType) -> SObjectType:
    _REGISTRY[sobject.name.lower()] = sobject
    return sobject


def get(name: str) -> SObjectType | None:
    return _REGISTRY.get(name.lower())


def for_model(model: type[models.Model]) -> SObjectType:
    for sobject in _REGISTRY.values():
        if sobject.model is model:
            return sobject
    raise LookupError(f"{model.__name__} is not registered")


def all_objects() -> list[SObjectType]:
    return sorted(_REGISTRY.values(), key=lambda sobject: sobject.name)
