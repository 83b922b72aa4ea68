"""Remove, pause and resume from the dashboards, one tracker or many.

The lifecycle enforces Edit access with the signed-in user as the actor: a
teammate with Read access is refused with the lifecycle's message, an outsider
gets a 404, and bulk work goes through Processing with visible progress.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.dashboards.team import client_for
from trackers import lifecycle
from trackers.choices import TrackerState
from trackers.models import ActionCadenceTracker, BulkJob

pytestmark = pytest.mark.django_db


def state_of(tracker) -> str:
    return ActionCadenceTracker.objects.get(pk=tracker.pk).state


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --------------------------------------------------------------------------- one tracker


def test_owner_removes_a_target_with_a_disposition(team):
    (tracker,) = team.running(1)
    response = client_for(team.owner).post(
        f"/trackers/{tracker.sf_id}/remove/",
        {"disposition": "Not Interested", "next": "/trackers/"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/trackers/"
    assert any("removed from its cadence (Not Interested)" in m for m in messages_of(response))
    tracker.refresh_from_db()
    assert (tracker.state, tracker.completion_reason, tracker.completion_disposition) == (
        "Complete",
        "ManuallyRemoved",
        "Not Interested",
    )
    event = tracker.change_events.order_by("-replay_id").first()
    assert event.commit_user == team.owner and event.change_origin == "dashboard"


def test_pause_and_resume(team):
    (tracker,) = team.running(1)
    client = client_for(team.owner)
    client.post(f"/trackers/{tracker.sf_id}/pause/", {"resume_at": "2999-01-01T09:00"})
    tracker.refresh_from_db()
    assert tracker.state == "Paused"
    assert tracker.scheduled_resume_date_time.year == 2999
    client.post(f"/trackers/{tracker.sf_id}/resume/")
    assert state_of(tracker) == "Running"


def test_refused_transition_shows_the_lifecycle_message(team):
    (tracker,) = team.running(1)
    response = client_for(team.owner).post(f"/trackers/{tracker.sf_id}/resume/", follow=True)
    (message,) = messages_of(response)
    assert tracker.sf_id in message and "Running" in message
    assert state_of(tracker) == "Running"


def test_invalid_disposition_is_refused(team):
    (tracker,) = team.running(1)
    response = client_for(team.owner).post(
        f"/trackers/{tracker.sf_id}/remove/", {"disposition": "Maybe"}, follow=True
    )
    assert any("Invalid CompletionDisposition" in m for m in messages_of(response))
    assert state_of(tracker) == "Running"


def test_read_only_teammate_cannot_act(team):
    (tracker,) = team.running(1)
    client = client_for(team.teammate)
    detail = client.get(f"/trackers/{tracker.sf_id}/")
    assert detail.status_code == 200
    assert b'data-action="remove"' not in detail.content
    assert b"You have Read access" in detail.content
    response = client.post(f"/trackers/{tracker.sf_id}/remove/", follow=True)
    assert any("You need Edit access" in m for m in messages_of(response))
    assert state_of(tracker) == "Running"


def test_editor_through_a_rule_can_act(team):
    (tracker,) = team.running(1)
    client_for(team.editor).post(f"/trackers/{tracker.sf_id}/remove/", {"disposition": "Duplicate"})
    assert state_of(tracker) == "Complete"


def test_outsider_gets_404_and_nothing_changes(team):
    (tracker,) = team.running(1)
    client = client_for(team.outsider)
    for action in ("remove", "pause", "resume"):
        assert client.post(f"/trackers/{tracker.sf_id}/{action}/").status_code == 404
    assert state_of(tracker) == "Running"


def test_actions_are_post_only_and_csrf_protected(team):
    (tracker,) = team.running(1)
    assert client_for(team.owner).get(f"/trackers/{tracker.sf_id}/remove/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(team.owner)
    assert strict.post(f"/trackers/{tracker.sf_id}/remove/").status_code == 403
    assert strict.post("/trackers/bulk/", {"action": "pause"}).status_code == 403
    assert state_of(tracker) == "Running"


def test_next_must_stay_on_this_site(team):
    (tracker,) = team.running(1)
    response = client_for(team.owner).post(
        f"/trackers/{tracker.sf_id}/pause/", {"next": "https://evil.example/"}
    )
    assert response.url == f"/trackers/{tracker.sf_id}/"


# --------------------------------------------------------------------------- bulk


def bulk(client, **data):
    data.setdefault("disposition", "")
    return client.post("/trackers/bulk/", data)


def test_bulk_remove_of_selected_trackers_asks_first_then_runs_through_processing(team):
    trackers = team.running(3)
    client = client_for(team.owner)
    ids = [tracker.sf_id for tracker in trackers[:2]]
    review = bulk(client, action="remove", disposition="No Response", scope="selected", ids=ids)
    assert review.status_code == 200
    assert b"Remove from cadence: 2 trackers?" in review.content
    assert BulkJob.objects.count() == 0
    assert {state_of(tracker) for tracker in trackers} == {"Running"}

    started = bulk(
        client,
        action="remove",
        disposition="No Response",
        scope="selected",
        ids=ids,
        confirmed="1",
        query="state=Running",
    )
    job = BulkJob.objects.get()
    assert started.url.startswith(f"/trackers/jobs/{job.pk}/")
    assert [state_of(tracker) for tracker in trackers] == ["Processing", "Processing", "Running"]
    page = client.get(started.url)
    assert b"data-progress-url" in page.content
    assert page.context["back"] == "/trackers/?state=Running"
    assert client.get(f"/trackers/jobs/{job.pk}/progress/").json()["done"] is False

    lifecycle.run_bulk_job(job.pk)
    progress = client.get(f"/trackers/jobs/{job.pk}/progress/").json()
    assert progress | {"errors": None} == {
        "id": job.pk,
        "action": "remove",
        "status": "done",
        "done": True,
        "total": 2,
        "succeeded": 2,
        "failed": 0,
        "percent": 100,
        "errors": None,
        "more_errors": 0,
    }
    for tracker in trackers[:2]:
        tracker.refresh_from_db()
        assert (tracker.state, tracker.completion_disposition) == ("Complete", "No Response")


def test_bulk_reports_each_refused_tracker(team):
    running, paused = team.running(2)
    lifecycle.pause(paused, actor=team.owner)
    client = client_for(team.owner)
    ids = [running.sf_id, paused.sf_id]
    review = bulk(client, action="pause", scope="selected", ids=ids)
    assert review.context["selection"].eligible == 1
    assert review.context["selection"].refused == 1
    bulk(client, action="pause", scope="selected", ids=ids, confirmed="1")
    job = BulkJob.objects.get()
    lifecycle.run_bulk_job(job.pk)
    progress = client.get(f"/trackers/jobs/{job.pk}/progress/").json()
    assert (progress["succeeded"], progress["failed"]) == (1, 1)
    (error,) = progress["errors"]
    assert error["id"] == paused.sf_id
    assert "Cannot pause a tracker in State Paused" in error["message"]
    assert error["url"] == f"/trackers/{paused.sf_id}/"
    page = client.get(f"/trackers/jobs/{job.pk}/")
    assert f'data-error-for="{paused.sf_id}"'.encode() in page.content


def test_bulk_by_read_only_teammate_refuses_every_tracker(team):
    trackers = team.running(2)
    client = client_for(team.teammate)
    ids = [tracker.sf_id for tracker in trackers]
    review = bulk(client, action="remove", scope="selected", ids=ids)
    assert review.context["selection"].eligible == 0
    bulk(client, action="remove", scope="selected", ids=ids, confirmed="1")
    job = BulkJob.objects.get()
    assert (job.total, job.failed, job.status) == (0, 2, "done")
    assert {error["errorCode"] for error in job.errors} == {"INSUFFICIENT_ACCESS_OR_READONLY"}
    assert {state_of(tracker) for tracker in trackers} == {"Running"}


def test_bulk_by_outsider_touches_nothing(team):
    trackers = team.running(2)
    client = client_for(team.outsider)
    ids = [tracker.sf_id for tracker in trackers]
    review = bulk(client, action="remove", scope="selected", ids=ids)
    assert review.context["selection"].not_visible == 2
    assert not review.context["selection"].trackers
    response = bulk(client, action="remove", scope="selected", ids=ids, confirmed="1")
    assert response.status_code == 302 and "/trackers/" in response.url
    assert BulkJob.objects.count() == 0
    assert {state_of(tracker) for tracker in trackers} == {"Running"}


def test_bulk_all_matching_the_filter(team):
    trackers = team.mixed(6)
    manager = client_for(team.manager)
    query = f"cadence={team.cadence.sf_id}"
    review = bulk(manager, action="remove", disposition="Duplicate", scope="filter", query=query)
    # Running and Paused can be removed; Complete, Error and Processing cannot.
    assert review.context["selection"].eligible == 2
    bulk(
        manager,
        action="remove",
        disposition="Duplicate",
        scope="filter",
        query=query,
        confirmed="1",
    )
    job = BulkJob.objects.get(requested_by=team.manager)
    assert (job.total, job.failed) == (2, 0)
    lifecycle.run_bulk_job(job.pk)
    assert state_of(trackers[0]) == state_of(trackers[5]) == "Complete"
    assert state_of(trackers[3]) == "Error"


def test_bulk_all_matching_for_a_read_only_teammate_is_empty(team):
    team.running(2)
    review = bulk(client_for(team.teammate), action="remove", scope="filter", query="")
    assert review.context["selection"].eligible == 0
    assert b"disabled" in review.content


def test_bulk_needs_a_selection(team):
    team.running(1)
    client = client_for(team.owner)
    response = bulk(client, action="remove", scope="selected", query="state=Running")
    assert response.url == "/trackers/?state=Running"


def test_a_job_is_visible_only_to_its_requester(team):
    (tracker,) = team.running(1)
    job = lifecycle.start_bulk("pause", [tracker], actor=team.owner)
    for user in (team.manager, team.teammate, team.outsider):
        client = client_for(user)
        assert client.get(f"/trackers/jobs/{job.pk}/").status_code == 404
        assert client.get(f"/trackers/jobs/{job.pk}/progress/").status_code == 404
    assert client_for(team.owner).get(f"/trackers/jobs/{job.pk}/").status_code == 200


def test_processing_tracker_offers_no_actions(team):
    (tracker,) = team.running(1)
    lifecycle.start_bulk("pause", [tracker], actor=team.owner)
    response = client_for(team.owner).get(f"/trackers/{tracker.sf_id}/")
    assert response.context["tracker"].state == TrackerState.PROCESSING
    assert b"A bulk job is working on this tracker" in response.content
