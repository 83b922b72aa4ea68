"""describeGlobal and describeSObjects, read from the registry and nothing else."""

from __future__ import annotations

from typing import Any

from cadence_site import registry
from cadence_site.registry import FieldSpec, SObjectType

# Salesforce's SOAP type of each describe type, for clients that map types by it.
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "string": "xsd:string",
    "textarea": "xsd:string",
    "email": "xsd:string",
    "picklist": "xsd:string",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


def _urls(version: str, sobject: SObjectType) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{sobject.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def _object_flags(sobject: SObjectType) -> dict[str, Any]:
    return {
        "name": sobject.name,
        "label": sobject.label,
        "labelPlural": sobject.label_plural,
        "keyPrefix": sobject.key_prefix,
        "createable": sobject.supports("create"),
        "deletable": sobject.supports("delete"),
        "queryable": sobject.supports("query"),
        "retrieveable": sobject.supports("retrieve"),
        "updateable": sobject.supports("update"),
        "replicateable": sobject.supports("getUpdated") and sobject.supports("getDeleted"),
        "searchable": False,
        "custom": False,
        "layoutable": False,
    }


def global_entry(version: str, sobject: SObjectType) -> dict[str, Any]:
    return {**_object_flags(sobject), "urls": _urls(version, sobject)}


def describe_global(version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [global_entry(version, sobject) for sobject in registry.all_objects()],
    }


def describe_field(spec: FieldSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "label": spec.label,
        "type": spec.type,
        "soapType": SOAP_TYPES.get(spec.type, "xsd:string"),
        "length": spec.length,
        "nillable": spec.nillable,
        "filterable": spec.filterable,
        "groupable": spec.groupable,
        "sortable": spec.sortable,
        "defaultedOnCreate": spec.has("Defaulted"),
        "restrictedPicklist": spec.restricted_picklist,
        "picklistValues": [
            {"value": value, "label": value, "active": True, "defaultValue": False}
            for value in spec.picklist
        ],
        "referenceTo": list(spec.reference_to),
        "relationshipName": spec.relationship_name,
        "polymorphicForeignKey": spec.polymorphic,
        "createable": spec.has("Create"),
        "updateable": spec.has("Update"),
        "custom": False,
        "idLookup": spec.type == "id",
    }


def _child_relationships(sobject: SObjectType) -> list[dict[str, Any]]:
    """Every reference on another object (or this one) that points here.

    Parent-to-child subqueries are not part of the SOQL subset, so relationshipName
    is null, as Salesforce reports for child relationships that cannot be queried.
    """
    children = []
    for child in registry.all_objects():
        for spec in child.fields:
            if spec.type == "reference" and sobject.name in spec.reference_to:
                children.append(
                    {
                        "childSObject": child.name,
                        "field": spec.name,
                        "relationshipName": None,
                        "cascadeDelete": False,
                        "deprecatedAndHidden": False,
                    }
                )
    return children


def describe_sobject(version: str, sobject: SObjectType) -> dict[str, Any]:
    return {
        **_object_flags(sobject),
        "fields": [describe_field(spec) for spec in sobject.fields],
        "childRelationships": _child_relationships(sobject),
        "urls": _urls(version, sobject),
    }
