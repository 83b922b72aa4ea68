"""The registry declares ActionCadenceTracker exactly as the seed document prints it.

The expectations below are copied from the seed (seeds/000_3e8a1a5a94ef487a.txt), not
from the code, so a drift in either direction fails here.
"""

import pytest
from django.core.exceptions import FieldDoesNotExist

from cadence_site import registry
from trackers.models import ActionCadenceTracker

# name: (type, properties as the seed prints them, references, relationship name)
SEED_FIELDS = {
    "ActionCadenceId": (
        "reference",
        "Filter Group Nillable Sort",
        ("ActionCadence",),
        "ActionCadence",
    ),
    "CompletionDisposition": ("picklist", "Filter Group Nillable Sort", (), None),
    "CompletionReason": ("picklist", "Filter Group Nillable Restricted Sort", (), None),
    "CurrentStepId": (
        "reference",
        "Filter Group Nillable Sort",
        ("ActionCadenceStepTracker",),
        "CurrentStep",
    ),
    "DaisyChainIteration": ("int", "Filter Group Nillable Sort", (), None),
    "ErrorMessage": ("string", "Filter Group Nillable Sort", (), None),
    "ExitGlobalRuleId": (
        "reference",
        "Filter Group Nillable Sort",
        ("ActionCadenceRule",),
        "ExitGlobalRule",
    ),
    "IsTrackerActive": ("boolean", "Defaulted Filter Group Sort", (), None),
    "LastCompletedStepId": (
        "reference",
        "Filter Group Nillable Sort",
        ("ActionCadenceStepTracker",),
        "LastCompletedStep",
    ),
    "OwnerId": ("reference", "Filter Group Sort", ("Group", "User"), "Owner"),
    "RelatedToAttributionType": ("picklist", "Filter Group Nillable Restricted Sort", (), None),
    "RelatedToId": (
        "reference",
        "Filter Group Nillable Sort",
        ("Opportunity", "Invoice"),
        "RelatedTo",
    ),
    "ScheduledResumeDateTime": ("datetime", "Filter Nillable Sort", (), None),
    "State": ("picklist", "Filter Group Restricted Sort", (), None),
    "TargetId": ("reference", "Filter Group Nillable Sort", ("Contact", "Lead"), "Target"),
}

SEED_PICKLISTS = {
    "CompletionDisposition": [
        "Bad Data",
        "Contact Later",
        "Customer Connected",
        "Customer Engaged",
        "Disqualified",
        "Duplicate",
        "No Response",
        "Not Interested",
        "Success",
    ],
    "CompletionReason": [
        "AutomaticallyExited",
        "AutomaticallyExitedDeletedStep",
        "AutomaticallyExitedInvalidParentStep",
        "DaisyChained",
        "LeadConverted",
        "ManuallyRemoved",
        "ManuallyRemovedNoAccess",
        "NoMoreSteps",
    ],
    "RelatedToAttributionType": [
        "Activation",
        "Collected",
        "Collection Advancement",
        "Maturation",
    ],
    "State": ["Complete", "Error", "Initializing", "Paused", "Processing", "Running"],
}

SYSTEM_FIELDS = {
    "Id",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "IsDeleted",
}

PROPERTY_ATTRIBUTES = {
    "Filter": "filterable",
    "Group": "groupable",
    "Nillable": "nillable",
    "Sort": "sortable",
    "Restricted": "restricted_picklist",
    "Defaulted": "defaulted_on_create",
}


@pytest.fixture
def tracker_type():
    sobject = registry.get("ActionCadenceTracker")
    assert sobject is not None
    return sobject


def test_the_tracker_declares_exactly_the_seeds_15_fields_plus_system_fields(tracker_type):
    names = [spec.name for spec in tracker_type.fields]
    assert len(names) == len(set(names)), "a field is declared twice"
    assert set(names) - SYSTEM_FIELDS == set(SEED_FIELDS)
    assert len(SEED_FIELDS) == 15
    assert set(names) >= SYSTEM_FIELDS


@pytest.mark.parametrize("name", sorted(SEED_FIELDS))
def test_each_field_has_the_seeds_type_and_properties(tracker_type, name):
    field_type, seed_props, references, relationship = SEED_FIELDS[name]
    spec = tracker_type.field(name)
    assert spec.type == field_type
    expected = {PROPERTY_ATTRIBUTES[word] for word in seed_props.split()}
    # Trackers are never created or updated through the generic calls, so no field
    # is createable or updateable.
    assert set(spec.properties) == expected
    for word, attribute in PROPERTY_ATTRIBUTES.items():
        assert spec.has(word) == (attribute in expected), f"{name}: {word}"
    assert set(spec.reference_to) == set(references)
    assert spec.relationship_name == relationship
    assert spec.polymorphic == (len(references) > 1)


@pytest.mark.parametrize("name", sorted(SEED_PICKLISTS))
def test_picklist_values_are_exactly_the_seeds(tracker_type, name):
    assert list(tracker_type.field(name).picklist) == SEED_PICKLISTS[name]


def test_only_the_seeds_restricted_picklists_are_restricted(tracker_type):
    restricted = {spec.name for spec in tracker_type.fields if spec.restricted_picklist}
    assert restricted == {"CompletionReason", "RelatedToAttributionType", "State"}
    # Imports keep unknown dispositions: that picklist is open.
    assert not tracker_type.field("CompletionDisposition").restricted_picklist


def test_polymorphic_references_map_each_object_to_its_own_column(tracker_type):
    assert tracker_type.field("OwnerId").columns == {"User": "owner_user", "Group": "owner_queue"}
    assert tracker_type.field("TargetId").columns == {
        "Contact": "target_contact",
        "Lead": "target_lead",
    }
    assert tracker_type.field("RelatedToId").columns == {
        "Opportunity": "related_opportunity",
        "Invoice": "related_invoice",
    }
    polymorphic = {spec.name for spec in tracker_type.fields if spec.polymorphic}
    assert polymorphic == {"OwnerId", "TargetId", "RelatedToId"}


def test_every_declared_column_is_a_real_model_field(tracker_type):
    meta = ActionCadenceTracker._meta
    for spec in tracker_type.fields:
        for column in [spec.attr, *spec.columns.values()]:
            if column is None:
                continue
            try:
                meta.get_field(column)
            except FieldDoesNotExist:  # pragma: no cover - the assertion below explains
                pytest.fail(f"{spec.name} reads {column!r}, which the model does not have")


def test_every_referenced_object_is_registered(tracker_type):
    for spec in tracker_type.fields:
        for target in spec.reference_to:
            assert registry.get(target) is not None, f"{spec.name} → {target} is not registered"


def test_relationship_and_field_lookups_are_case_insensitive(tracker_type):
    assert tracker_type.field("actioncadenceid") is tracker_type.field("ActionCadenceId")
    assert tracker_type.relationship("owner") is tracker_type.field("OwnerId")
    assert tracker_type.relationship("TARGET") is tracker_type.field("TargetId")
    assert tracker_type.field("NoSuchField") is None
    assert registry.get("actioncadencetracker") is tracker_type


def test_supported_calls_are_exactly_the_seeds(tracker_type):
    assert tracker_type.calls == {
        "delete",
        "describeSObjects",
        "getDeleted",
        "getUpdated",
        "query",
        "retrieve",
    }
    assert not tracker_type.supports("create")
    assert not tracker_type.supports("update")


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("Lead", "00Q"),
        ("Contact", "003"),
        ("User", "005"),
        ("Group", "00G"),
        ("Opportunity", "006"),
        ("UserRole", "00E"),
        ("ActionCadence", "77C"),
    ],
)
def test_key_prefixes_are_salesforces(name, prefix):
    assert registry.get(name).key_prefix == prefix


def test_key_prefixes_are_unique_across_objects():
    prefixes = [sobject.key_prefix for sobject in registry.all_objects()]
    assert all(len(prefix) == 3 for prefix in prefixes)
    assert len(prefixes) == len(set(prefixes))
