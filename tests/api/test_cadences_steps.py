"""Cadences and steps (org-wide, read-only) and step trackers (visible through their tracker)."""

import pytest

from tests.api.conftest import client_for
from tests.factories import make_cadence, running_tracker
from trackers import lifecycle

pytestmark = pytest.mark.django_db


def test_cadences_list_their_steps_and_counts(rep, outsider):
    cadence = make_cadence("MakeACall", "Wait", "SendAnEmail")
    running_tracker(owner=rep, cadence=cadence)
    done = running_tracker(owner=rep, cadence=cadence)
    lifecycle.remove_target(done, actor=rep, disposition="Success")
    body = client_for(outsider).get("/api/cadences/").json()
    assert len(body) == 1
    row = body[0]
    assert (row["Id"], row["Name"], row["State"]) == (cadence.sf_id, cadence.name, "Active")
    assert (row["ActiveTargets"], row["TotalTargets"], row["SuccessfulCompletions"]) == (1, 2, 1)
    assert row["TotalSteps"] == 3
    steps = {step["Type"]: step for step in row["Steps"]}
    assert set(steps) == {"Root", "MakeACall", "Wait", "SendAnEmail"}
    assert steps["Wait"]["WaitTimeInSeconds"] == 86400
    assert steps["MakeACall"]["ParentStepName"] == steps["Root"]["StepName"]
    assert client_for(outsider).get(f"/api/cadences/{cadence.sf_id}/").json() == row


def test_cadences_are_read_only(rep):
    cadence = make_cadence()
    client = client_for(rep)
    assert client.post("/api/cadences/", {"Name": "x"}, "json").status_code == 405
    assert client.delete(f"/api/cadences/{cadence.sf_id}/").status_code == 405


def test_steps_filter_by_cadence(rep):
    first, second = make_cadence("MakeACall"), make_cadence("SendAnEmail", "Wait")
    steps = client_for(rep).get("/api/steps/", {"cadence": second.sf_id}).json()
    assert {step["ActionCadenceId"] for step in steps} == {second.sf_id}
    assert len(steps) == 3
    both = f"{first.sf_id},{second.sf_id}"
    assert len(client_for(rep).get("/api/steps/", {"cadence": both}).json()) == 5


def test_step_trackers_follow_their_tracker(tracker, rep, teammate, outsider):
    lifecycle.complete_step(tracker, actor=rep)
    mine = client_for(rep).get("/api/step-trackers/").json()["results"]
    assert [(row["StepType"], row["State"]) for row in mine] == [
        ("MakeACall", "Completed"),
        ("SendAnEmail", "Active"),
    ]
    assert {row["ActionCadenceTrackerId"] for row in mine} == {tracker.sf_id}
    assert client_for(teammate).get("/api/step-trackers/").json()["results"] == mine
    assert client_for(outsider).get("/api/step-trackers/").json()["results"] == []
    assert client_for(outsider).get(f"/api/step-trackers/{mine[0]['Id']}/").status_code == 404


def test_step_trackers_filter_by_tracker_and_state(tracker, rep):
    other = running_tracker(owner=rep)
    client = client_for(rep)
    rows = client.get("/api/step-trackers/", {"tracker": other.sf_id}).json()["results"]
    assert {row["ActionCadenceTrackerId"] for row in rows} == {other.sf_id}
    lifecycle.pause(tracker, actor=rep)
    paused = client.get("/api/step-trackers/", {"state": "Paused"}).json()["results"]
    assert [row["ActionCadenceTrackerId"] for row in paused] == [tracker.sf_id]


def test_step_trackers_of_deleted_trackers_are_hidden(tracker, rep):
    lifecycle.delete_tracker(tracker, actor=rep)
    assert client_for(rep).get("/api/step-trackers/").json()["results"] == []
