"""describeGlobal and describeSObjects, true to the seed for ActionCadenceTracker."""

import pytest

from cadence_site import registry
from tests.sfapi.conftest import BASE

pytestmark = pytest.mark.django_db

# From the seed document: name -> (type, properties, referenceTo, relationshipName).
SEED = {
    "ActionCadenceId": (
        "reference",
        "Filter Group Nillable Sort",
        ["ActionCadence"],
        "ActionCadence",
    ),
    "CompletionDisposition": ("picklist", "Filter Group Nillable Sort", [], None),
    "CompletionReason": ("picklist", "Filter Group Nillable Restricted Sort", [], None),
    "CurrentStepId": (
        "reference",
        "Filter Group Nillable Sort",
        ["ActionCadenceStepTracker"],
        "CurrentStep",
    ),
    "DaisyChainIteration": ("int", "Filter Group Nillable Sort", [], None),
    "ErrorMessage": ("string", "Filter Group Nillable Sort", [], None),
    "ExitGlobalRuleId": (
        "reference",
        "Filter Group Nillable Sort",
        ["ActionCadenceRule"],
        "ExitGlobalRule",
    ),
    "IsTrackerActive": ("boolean", "Defaulted Filter Group Sort", [], None),
    "LastCompletedStepId": (
        "reference",
        "Filter Group Nillable Sort",
        ["ActionCadenceStepTracker"],
        "LastCompletedStep",
    ),
    "OwnerId": ("reference", "Filter Group Sort", ["Group", "User"], "Owner"),
    "RelatedToAttributionType": ("picklist", "Filter Group Nillable Restricted Sort", [], None),
    "RelatedToId": (
        "reference",
        "Filter Group Nillable Sort",
        ["Opportunity", "Invoice"],
        "RelatedTo",
    ),
    "ScheduledResumeDateTime": ("datetime", "Filter Nillable Sort", [], None),
    "State": ("picklist", "Filter Group Restricted Sort", [], None),
    "TargetId": ("reference", "Filter Group Nillable Sort", ["Contact", "Lead"], "Target"),
}


def test_describe_global_lists_every_registered_object(api, rep):
    body = api(rep).get(f"{BASE}/sobjects").json()
    names = [entry["name"] for entry in body["sobjects"]]
    assert names == [sobject.name for sobject in registry.all_objects()]
    tracker = next(entry for entry in body["sobjects"] if entry["name"] == "ActionCadenceTracker")
    assert tracker["keyPrefix"] == "7CT"
    assert tracker["urls"]["rowTemplate"] == f"{BASE}/sobjects/ActionCadenceTracker/{{ID}}"


def test_tracker_describe_is_true_to_the_seed(api, rep):
    body = api(rep).get(f"{BASE}/sobjects/ActionCadenceTracker/describe").json()
    assert {key: body[key] for key in ("name", "label", "labelPlural", "keyPrefix")} == {
        "name": "ActionCadenceTracker",
        "label": "Action Cadence Tracker",
        "labelPlural": "Action Cadence Trackers",
        "keyPrefix": "7CT",
    }
    # Supported calls: delete(), describeSObjects(), getDeleted(), getUpdated(), query(), retrieve()
    assert (body["createable"], body["updateable"]) == (False, False)
    assert body["deletable"] and body["queryable"] and body["retrieveable"]
    assert body["replicateable"]
    fields = {field["name"]: field for field in body["fields"]}
    for name, (kind, properties, reference_to, relationship) in SEED.items():
        field = fields[name]
        words = set(properties.split())
        assert field["type"] == kind, name
        assert field["filterable"] == ("Filter" in words), name
        assert field["groupable"] == ("Group" in words), name
        assert field["sortable"] == ("Sort" in words), name
        assert field["nillable"] == ("Nillable" in words), name
        assert field["restrictedPicklist"] == ("Restricted" in words), name
        assert field["defaultedOnCreate"] == ("Defaulted" in words), name
        assert field["referenceTo"] == reference_to, name
        assert field["relationshipName"] == relationship, name
        assert field["polymorphicForeignKey"] == (len(reference_to) > 1), name
        assert field["createable"] is False and field["updateable"] is False, name
    state_values = [value["value"] for value in fields["State"]["picklistValues"]]
    assert state_values == ["Complete", "Error", "Initializing", "Paused", "Processing", "Running"]
    assert fields["State"]["picklistValues"][0] == {
        "value": "Complete",
        "label": "Complete",
        "active": True,
        "defaultValue": False,
    }
    assert len(fields["CompletionDisposition"]["picklistValues"]) == 9
    assert fields["ErrorMessage"]["length"] == 255
    assert fields["Id"]["type"] == "id"
    children = {(child["childSObject"], child["field"]) for child in body["childRelationships"]}
    assert ("ActionCadenceStepTracker", "ActionCadenceTrackerId") in children
    assert ("ActionCadenceTrackerShare", "ParentId") in children


def test_writable_objects_say_which_fields_they_take(api, rep):
    body = api(rep).get(f"{BASE}/sobjects/ActionCadenceTrackerShare/describe").json()
    assert body["createable"] and body["updateable"] and body["deletable"]
    fields = {field["name"]: field for field in body["fields"]}
    assert fields["AccessLevel"]["createable"] and fields["AccessLevel"]["updateable"]
    assert fields["ParentId"]["createable"] and not fields["ParentId"]["updateable"]
    assert not fields["Id"]["createable"]
    user = api(rep).get(f"{BASE}/sobjects/User/describe").json()
    assert [field["name"] for field in user["fields"] if field["updateable"]] == ["UserRoleId"]


def test_basic_object_info(api, rep):
    body = api(rep).get(f"{BASE}/sobjects/ActionCadenceTracker").json()
    assert body["objectDescribe"]["name"] == "ActionCadenceTracker"
    assert body["recentItems"] == []


def test_unknown_object_is_404(api, rep):
    for path in ("sobjects/Nope/describe", "sobjects/Nope", "sobjects/Nope/updated"):
        response = api(rep).get(f"{BASE}/{path}")
        assert response.status_code == 404
        assert response.json()[0]["errorCode"] == "NOT_FOUND"


def test_object_names_are_case_insensitive(api, rep):
    body = api(rep).get(f"{BASE}/sobjects/actioncadencetracker/describe").json()
    assert body["name"] == "ActionCadenceTracker"
