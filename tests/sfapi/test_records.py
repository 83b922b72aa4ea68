"""retrieve (GET sobjects/{Object}/{id}) and delete (DELETE sobjects/{Object}/{id})."""

import re

import pytest

from tests.sfapi.conftest import BASE
from trackers import lifecycle
from trackers.models import ActionCadenceTracker, ActionCadenceTrackerChangeEvent

pytestmark = pytest.mark.django_db


def url(tracker_id: str) -> str:
    return f"{BASE}/sobjects/ActionCadenceTracker/{tracker_id}"


def test_retrieve_returns_every_field_in_salesforce_shape(api, rep, org):
    tracker = org["trackers"][0]
    response = api(rep).get(url(tracker.sf_id))
    assert response.status_code == 200
    body = response.json()
    assert body["attributes"] == {"type": "ActionCadenceTracker", "url": url(tracker.sf_id)}
    assert body["Id"] == tracker.sf_id
    assert body["State"] == "Running"
    assert body["IsTrackerActive"] is True
    assert body["ActionCadenceId"] == org["cadence"].sf_id
    assert body["OwnerId"] == rep.sf_id
    assert body["TargetId"] == tracker.target.sf_id
    assert body["CompletionReason"] is None
    assert body["CurrentStepId"].startswith("7CU")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", body["CreatedDate"])
    assert len(body) == 1 + 7 + 15  # attributes, the system fields, the seed's 15


def test_retrieve_with_fields_and_15_character_id(api, rep, org):
    tracker = org["trackers"][0]
    response = api(rep).get(url(tracker.sf_id[:15]), {"fields": "State,targetid"})
    assert response.json() == {
        "attributes": {"type": "ActionCadenceTracker", "url": url(tracker.sf_id)},
        "State": "Running",
        "TargetId": tracker.target.sf_id,
        "Id": tracker.sf_id,
    }


def test_retrieve_unknown_field_is_invalid_field(api, rep, org):
    response = api(rep).get(url(org["trackers"][0].sf_id), {"fields": "State,Bogus"})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD"


@pytest.mark.parametrize(
    ("record_id", "status", "code"),
    [
        ("not-an-id", 400, "MALFORMED_ID"),
        ("7CT00000000000", 400, "MALFORMED_ID"),
        ("7CT0000000000ZZ", 404, "NOT_FOUND"),  # well formed, no such tracker
        ("00Q000000000001EAA", 404, "NOT_FOUND"),  # a Lead's id
    ],
)
def test_retrieve_bad_ids(api, rep, record_id, status, code):
    response = api(rep).get(url(record_id))
    assert response.status_code == status
    assert response.json()[0]["errorCode"] == code


def test_three_users_retrieve(api, rep, teammate, outsider, org):
    tracker_url = url(org["trackers"][0].sf_id)
    assert api(rep).get(tracker_url).status_code == 200
    assert api(teammate).get(tracker_url).status_code == 200
    hidden = api(outsider).get(tracker_url)
    assert hidden.status_code == 404  # never 403: the tracker does not exist for them
    assert hidden.json()[0]["errorCode"] == "NOT_FOUND"


def test_retrieve_other_objects(api, outsider, org):
    body = api(outsider).get(f"{BASE}/sobjects/ActionCadence/{org['cadence'].sf_id}").json()
    assert body["Name"] == org["cadence"].name
    step_tracker = org["trackers"][0].current_step
    response = api(outsider).get(f"{BASE}/sobjects/ActionCadenceStepTracker/{step_tracker.sf_id}")
    assert response.status_code == 404  # step trackers follow their tracker


def test_delete_is_a_soft_delete_by_the_lifecycle(api, rep, org):
    tracker = org["trackers"][0]
    response = api(rep).delete(url(tracker.sf_id))
    assert response.status_code == 204
    tracker = ActionCadenceTracker.all_objects.get(pk=tracker.pk)
    assert tracker.is_deleted
    event = ActionCadenceTrackerChangeEvent.objects.filter(tracker=tracker).last()
    assert event.change_type == "DELETE" and event.commit_user_id == rep.pk
    assert api(rep).get(url(tracker.sf_id)).status_code == 404
    assert api(rep).delete(url(tracker.sf_id)).status_code == 404


def test_delete_needs_all_access(api, rep, teammate, outsider, org):
    tracker = org["trackers"][0]
    read_only = api(teammate).delete(url(tracker.sf_id))
    assert read_only.status_code == 403
    assert read_only.json()[0]["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert api(outsider).delete(url(tracker.sf_id)).status_code == 404
    assert not ActionCadenceTracker.all_objects.get(pk=tracker.pk).is_deleted


def test_delete_refuses_a_tracker_in_processing(api, rep, org):
    tracker = org["trackers"][0]
    lifecycle.start_bulk("pause", [tracker], actor=rep)
    response = api(rep).delete(url(tracker.sf_id))
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_OPERATION"


@pytest.mark.parametrize("method", ["post", "patch"])
def test_trackers_are_not_createable_or_updateable(api, admin_user, org, method):
    client = api(admin_user)
    target = f"{BASE}/sobjects/ActionCadenceTracker"
    if method == "patch":
        target = url(org["trackers"][0].sf_id)
    response = getattr(client, method)(target, {"State": "Paused"}, format="json")
    assert response.status_code == 405
    (error,) = response.json()
    assert error["errorCode"] == "METHOD_NOT_ALLOWED"
    assert "not createable" in error["message"] or "not updateable" in error["message"]
    assert "PATCH" not in response["Allow"]
    assert ActionCadenceTracker.objects.get(pk=org["trackers"][0].pk).state == "Running"
