"""The change-event feed: ActionCadenceTrackerChangeEvent rows after a replay id,
only for trackers the reader can see."""

import pytest

from tests.api.conftest import client_for
from tests.factories import running_tracker
from trackers import lifecycle

pytestmark = pytest.mark.django_db


def feed(user, **params):
    response = client_for(user).get("/api/change-events/", params)
    assert response.status_code == 200, response.content
    return response.json()


def record_ids(body):
    return {event["payload"]["ChangeEventHeader"]["recordIds"][0] for event in body["results"]}


def test_owner_and_teammate_see_the_events_outsider_does_not(tracker, rep, teammate, outsider):
    events = feed(rep)["results"]
    assert [event["payload"]["ChangeEventHeader"]["changeType"] for event in events] == [
        "CREATE",
        "UPDATE",
    ]
    assert feed(teammate)["results"] == events
    assert feed(outsider)["results"] == []


def test_events_carry_the_header_and_values(tracker, rep):
    lifecycle.remove_target(tracker, actor=rep, disposition="Success")
    last = feed(rep)["results"][-1]
    header = last["payload"]["ChangeEventHeader"]
    assert header["entityName"] == "ActionCadenceTracker"
    assert header["recordIds"] == [tracker.sf_id]
    assert header["changeType"] == "UPDATE"
    assert {"State", "CompletionReason", "CompletionDisposition"} <= set(header["changedFields"])
    assert header["commitUser"] == rep.sf_id
    assert last["payload"]["State"] == "Complete"
    assert last["payload"]["CompletionDisposition"] == "Success"
    created = feed(rep)["results"][0]["payload"]
    assert created["Id"] == tracker.sf_id
    assert created["OwnerId"] == rep.sf_id


def test_polling_after_a_replay_id(tracker, rep):
    first = feed(rep, limit=1)
    assert len(first["results"]) == 1
    assert first["hasMore"] is True
    rest = client_for(rep).get(first["next"]).json()
    assert rest["results"][0]["replayId"] > first["lastReplayId"]
    assert rest["hasMore"] is False
    caught_up = client_for(rep).get(rest["next"]).json()
    assert caught_up["results"] == []
    assert caught_up["lastReplayId"] == rest["lastReplayId"]
    lifecycle.pause(tracker, actor=rep)
    fresh = client_for(rep).get(caught_up["next"]).json()
    assert [event["payload"]["State"] for event in fresh["results"]] == ["Paused"]


def test_deleted_trackers_still_send_their_delete_event(tracker, rep, outsider):
    lifecycle.delete_tracker(tracker, actor=rep)
    assert feed(rep)["results"][-1]["payload"]["ChangeEventHeader"]["changeType"] == "DELETE"
    assert feed(outsider)["results"] == []


def test_only_visible_trackers_events_are_listed(tracker, rep, outsider):
    theirs = running_tracker(owner=outsider)
    assert record_ids(feed(rep)) == {tracker.sf_id}
    assert record_ids(feed(outsider)) == {theirs.sf_id}


@pytest.mark.parametrize("name, value", [("after", "x"), ("after", "-1"), ("limit", "0")])
def test_bad_feed_parameters_are_400(rep, name, value):
    response = client_for(rep).get("/api/change-events/", {name: value})
    assert response.status_code == 400
    assert name in response.json()["fields"]
