"""Standard invocable actions: remove, pause, resume; one result per input."""

import pytest

from tests.factories import running_tracker
from tests.sfapi.conftest import BASE
from trackers.models import ActionCadenceTracker, ActionCadenceTrackerChangeEvent

pytestmark = pytest.mark.django_db

REMOVE = f"{BASE}/actions/standard/removeTargetFromSalesCadence"
PAUSE = f"{BASE}/actions/standard/pauseSalesCadenceTracker"
RESUME = f"{BASE}/actions/standard/resumeSalesCadenceTracker"


def invoke(client, url, *inputs):
    response = client.post(url, {"inputs": list(inputs)}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def failure(result) -> dict:
    assert result["isSuccess"] is False and result["outputValues"] is None
    (error,) = result["errors"]
    return error


def test_remove_by_target_and_by_tracker(api, rep, org):
    first, second = org["trackers"]
    results = invoke(
        api(rep),
        REMOVE,
        {
            "targetId": first.target.sf_id,
            "completionReasonCode": "ManuallyRemoved",
            "completionDisposition": "Not Interested",
        },
        {"actionCadenceTrackerId": second.sf_id[:15], "completionDisposition": "Success"},
    )
    assert results == [
        {
            "actionName": "removeTargetFromSalesCadence",
            "errors": None,
            "isSuccess": True,
            "outputValues": {"actionCadenceTrackerId": first.sf_id, "state": "Complete"},
        },
        {
            "actionName": "removeTargetFromSalesCadence",
            "errors": None,
            "isSuccess": True,
            "outputValues": {"actionCadenceTrackerId": second.sf_id, "state": "Complete"},
        },
    ]
    first.refresh_from_db()
    assert (first.state, first.completion_reason, first.completion_disposition) == (
        "Complete",
        "ManuallyRemoved",
        "Not Interested",
    )
    event = ActionCadenceTrackerChangeEvent.objects.filter(tracker=first).last()
    assert event.commit_user_id == rep.pk and event.change_origin == "api"


def test_each_input_stands_alone(api, rep, outsider, org):
    """A bad disposition, an already Complete tracker or one the user cannot see fails
    its own input; the good input next to them still succeeds."""
    first, second = org["trackers"]
    invoke(api(rep), REMOVE, {"actionCadenceTrackerId": second.sf_id})
    hidden = running_tracker(owner=outsider)
    results = invoke(
        api(rep),
        REMOVE,
        {"targetId": first.target.sf_id, "completionDisposition": "Maybe later"},
        {"targetId": second.target.sf_id},
        {"actionCadenceTrackerId": hidden.sf_id},
        {"targetId": first.target.sf_id, "completionDisposition": "Duplicate"},
    )
    assert failure(results[0])["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    already = failure(results[1])
    assert already["statusCode"] == "INVALID_OPERATION" and "already Complete" in already["message"]
    assert failure(results[2])["statusCode"] == "NOT_FOUND"
    assert results[3]["isSuccess"] is True
    assert ActionCadenceTracker.objects.get(pk=hidden.pk).state == "Running"


def test_read_only_teammate_cannot_remove(api, teammate, org):
    (result,) = invoke(api(teammate), REMOVE, {"actionCadenceTrackerId": org["trackers"][0].sf_id})
    assert failure(result)["statusCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({}, "REQUIRED_FIELD_MISSING"),
        ({"targetId": "garbage"}, "MALFORMED_ID"),
        ({"targetId": "006000000000000AAA"}, "INVALID_FIELD"),  # an Opportunity
        ({"targetId": "00Q000000000000EAA"}, "NOT_FOUND"),
        ({"actionCadenceTrackerId": "00Q000000000000EAA"}, "MALFORMED_ID"),
        (
            {"targetId": "TARGET", "completionReasonCode": "NoMoreSteps"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ),
        ({"targetId": "TARGET", "reason": "x"}, "INVALID_INPUT"),
        ("not an object", "INVALID_INPUT"),
    ],
)
def test_input_errors_are_failed_results(api, rep, org, values, code):
    if isinstance(values, dict) and values.get("targetId") == "TARGET":
        values["targetId"] = org["trackers"][0].target.sf_id
    (result,) = invoke(api(rep), REMOVE, values)
    assert failure(result)["statusCode"] == code
    assert ActionCadenceTracker.objects.get(pk=org["trackers"][0].pk).state == "Running"


def test_pause_and_resume(api, rep, org):
    tracker = org["trackers"][0]
    client = api(rep)
    (paused,) = invoke(
        client,
        PAUSE,
        {
            "targetId": tracker.target.sf_id,
            "scheduledResumeDateTime": "2099-01-01T09:00:00.000+0000",
        },
    )
    assert paused["outputValues"]["state"] == "Paused"
    tracker.refresh_from_db()
    assert tracker.scheduled_resume_date_time.year == 2099
    (again,) = invoke(client, PAUSE, {"targetId": tracker.target.sf_id})
    assert failure(again)["statusCode"] == "INVALID_OPERATION"
    (resumed,) = invoke(client, RESUME, {"actionCadenceTrackerId": tracker.sf_id})
    assert resumed["isSuccess"] and resumed["outputValues"]["state"] == "Running"
    (not_paused,) = invoke(client, RESUME, {"actionCadenceTrackerId": tracker.sf_id})
    assert failure(not_paused)["statusCode"] == "INVALID_OPERATION"
    (bad_time,) = invoke(
        client, PAUSE, {"targetId": tracker.target.sf_id, "scheduledResumeDateTime": "soon"}
    )
    assert failure(bad_time)["statusCode"] == "INVALID_FIELD"


def test_request_level_errors(api, rep):
    client = api(rep)
    for body in ({}, {"inputs": []}, {"inputs": "x"}, []):
        response = client.post(REMOVE, body, format="json")
        assert response.status_code == 400
        assert response.json()[0]["errorCode"] == "INVALID_INPUT"
    too_many = client.post(REMOVE, {"inputs": [{}] * 201}, format="json")
    assert too_many.json()[0]["errorCode"] == "LIMIT_EXCEEDED"
    unknown = client.post(f"{BASE}/actions/standard/launchRocket", {"inputs": [{}]}, format="json")
    assert unknown.status_code == 404


def test_actions_are_listed_and_described(api, rep):
    client = api(rep)
    names = [action["name"] for action in client.get(f"{BASE}/actions/standard").json()["actions"]]
    assert names == [
        "removeTargetFromSalesCadence",
        "pauseSalesCadenceTracker",
        "resumeSalesCadenceTracker",
    ]
    described = client.get(REMOVE).json()
    assert {item["name"] for item in described["inputs"]} == {
        "targetId",
        "actionCadenceTrackerId",
        "completionReasonCode",
        "completionDisposition",
    }
