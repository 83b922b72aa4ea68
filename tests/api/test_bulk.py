"""Bulk removal over the API: trackers go through Processing, a job finishes them, and
the requester follows its progress."""

import pytest
from django.core.management import call_command

from tests.api.conftest import client_for
from tests.factories import ContactFactory, UserFactory, running_tracker
from trackers import lifecycle
from trackers.models import ActionCadenceTracker, BulkJob

pytestmark = pytest.mark.django_db


def bulk_remove(user, body):
    return client_for(user).post("/api/trackers/bulk-remove/", body, "json")


def states(*trackers):
    return [ActionCadenceTracker.objects.get(pk=tracker.pk).state for tracker in trackers]


def test_bulk_remove_by_ids_through_processing(rep, teammate, outsider):
    """GIVEN two of rep's trackers, one teammate can only read and one nobody can see
    WHEN rep bulk-removes all of them by Id
    THEN rep's go Processing, the rest are reported, and the job finishes them."""
    mine = [running_tracker(owner=rep) for _ in range(2)]
    hidden = running_tracker(owner=outsider)
    response = bulk_remove(
        rep,
        {
            "ids": [tracker.sf_id for tracker in mine] + [hidden.sf_id],
            "completion_disposition": "Duplicate",
        },
    )
    assert response.status_code == 202
    job = response.json()
    assert response["Location"].endswith(f"/api/bulk-jobs/{job['id']}/")
    assert job["status"] == "queued"
    assert (job["total"], job["failed"]) == (2, 1)
    assert job["errors"] == [
        {"id": hidden.sf_id, "message": "No such tracker.", "errorCode": "NOT_FOUND"}
    ]
    assert states(*mine) == ["Processing", "Processing"]
    assert states(hidden) == ["Running"]

    lifecycle.run_bulk_job(job["id"])

    progress = client_for(rep).get(f"/api/bulk-jobs/{job['id']}/").json()
    assert progress["status"] == "done"
    assert (progress["total"], progress["succeeded"], progress["failed"]) == (2, 2, 1)
    assert progress["processed"] == 3
    assert progress["finished_at"] is not None
    for tracker in mine:
        tracker.refresh_from_db()
        assert tracker.state == "Complete"
        assert tracker.completion_reason == "ManuallyRemoved"
        assert tracker.completion_disposition == "Duplicate"


def test_read_only_trackers_are_reported_not_removed(org, rep, teammate):
    response = bulk_remove(teammate, {"ids": [org["tracker"].sf_id]})
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "done"
    assert job["total"] == 0
    assert job["errors"][0]["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert states(org["tracker"]) == ["Running"]


# The worker closes its database connection when done, as a real worker does: that
# needs committed data rather than the test's enclosing transaction.
@pytest.mark.django_db(transaction=True)
def test_bulk_remove_by_filter_applies_to_the_editable_set(rep, teammate, outsider):
    """The filter picks rep's Running trackers on Contacts; Leads, other states and
    other people's trackers are left alone."""
    chosen = [running_tracker(owner=rep, target=ContactFactory()) for _ in range(3)]
    paused = running_tracker(owner=rep, target=ContactFactory())
    lifecycle.pause(paused, actor=rep)
    on_a_lead = running_tracker(owner=rep)
    not_mine = running_tracker(owner=outsider, target=ContactFactory())

    response = bulk_remove(rep, {"filter": {"target_type": "Contact", "state": ["Running"]}})

    assert response.status_code == 202
    assert response.json()["total"] == 3
    assert response.json()["errors"] == []
    call_command("db_worker", batch=True, interval=0, verbosity=0)
    assert states(*chosen) == ["Complete"] * 3
    assert states(paused, on_a_lead, not_mine) == ["Paused", "Running", "Running"]
    progress = client_for(rep).get(f"/api/bulk-jobs/{response.json()['id']}/").json()
    assert (progress["status"], progress["succeeded"]) == ("done", 3)


def test_a_filter_that_matches_nothing_removable_is_400(org, rep):
    lifecycle.remove_target(org["tracker"], actor=rep)
    response = bulk_remove(rep, {"filter": {"state": ["Running"]}})
    assert response.status_code == 400
    assert response.json()["code"] == "REQUIRED_FIELD_MISSING"


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "non_field_errors"),
        ({"ids": ["7CT000000000001AAA"], "filter": {}}, "non_field_errors"),
        ({"ids": ["not-an-id"]}, "ids"),
        ({"ids": []}, "ids"),
        (
            {"ids": ["7CT000000000001AAA"], "completion_disposition": "Meh"},
            "completion_disposition",
        ),
    ],
)
def test_malformed_requests_are_400(rep, body, field):
    response = bulk_remove(rep, body)
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_an_invalid_filter_value_is_400(org, rep):
    response = bulk_remove(rep, {"filter": {"state": ["Sleeping"]}})
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_FIELD"
    assert "state" in response.json()["detail"]


def test_ids_nobody_can_see_are_400_and_start_nothing(org, outsider):
    response = bulk_remove(outsider, {"ids": [org["tracker"].sf_id]})
    assert response.status_code == 400
    assert response.json()["code"] == "NOT_FOUND"
    assert not BulkJob.objects.exists()


def test_only_the_requester_or_a_superuser_sees_a_job(org, rep, teammate, admin_user):
    job_id = bulk_remove(rep, {"ids": [org["tracker"].sf_id]}).json()["id"]
    url = f"/api/bulk-jobs/{job_id}/"
    assert client_for(rep).get(url).status_code == 200
    assert client_for(teammate).get(url).status_code == 404
    assert client_for(admin_user).get(url).status_code == 200
    assert [job["id"] for job in client_for(rep).get("/api/bulk-jobs/").json()["results"]] == [
        job_id
    ]
    assert client_for(UserFactory()).get("/api/bulk-jobs/").json()["results"] == []
