"""Trackers over the DRF API: who sees what, the actions and their refusals."""

import datetime as dt

import pytest
from django.utils import timezone

from cadence_site import registry
from tests.api.conftest import client_for, share_by_rule
from tests.factories import UserFactory, running_tracker
from trackers import lifecycle
from trackers.models import ActionCadenceTracker

pytestmark = pytest.mark.django_db


def listed_ids(user, url="/api/trackers/"):
    response = client_for(user).get(url)
    assert response.status_code == 200, response.content
    return {row["Id"] for row in response.json()["results"]}


def post(user, tracker, action, body=None):
    return client_for(user).post(f"/api/trackers/{tracker.sf_id}/{action}/", body or {}, "json")


# --------------------------------------------------------------------------- visibility


def test_owner_and_teammate_list_the_tracker_outsider_does_not(tracker, rep, teammate, outsider):
    assert listed_ids(rep) == {tracker.sf_id}
    assert listed_ids(teammate) == {tracker.sf_id}
    assert listed_ids(outsider) == set()


def test_detail_is_404_for_the_outsider(tracker, rep, teammate, outsider):
    url = f"/api/trackers/{tracker.sf_id}/"
    assert client_for(rep).get(url).status_code == 200
    assert client_for(teammate).get(url).status_code == 200
    response = client_for(outsider).get(url)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "NOT_FOUND"}


def test_a_15_character_id_finds_the_tracker_and_garbage_is_404(tracker, rep):
    assert client_for(rep).get(f"/api/trackers/{tracker.sf_id[:15]}/").json()["Id"] == (
        tracker.sf_id
    )
    assert client_for(rep).get("/api/trackers/7CT000000000000000/").status_code == 404


def test_deleted_trackers_are_gone_from_list_and_detail(tracker, rep):
    lifecycle.delete_tracker(tracker, actor=rep)
    assert listed_ids(rep) == set()
    assert client_for(rep).get(f"/api/trackers/{tracker.sf_id}/").status_code == 404


def test_anonymous_requests_are_refused(tracker):
    response = client_for().get("/api/trackers/")
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_SESSION_ID"


# --------------------------------------------------------------------------- shape


def test_output_speaks_salesforce_api_names_with_summaries(tracker, rep):
    body = client_for(rep).get(f"/api/trackers/{tracker.sf_id}/").json()
    sobject = registry.for_model(ActionCadenceTracker)
    assert [spec.name for spec in sobject.fields] == list(body)[: len(sobject.fields)]
    assert body["Id"] == tracker.sf_id
    assert body["State"] == "Running"
    assert body["IsTrackerActive"] is True
    assert body["ActionCadenceId"] == tracker.action_cadence.sf_id
    assert body["ActionCadence"] == {
        "Id": tracker.action_cadence.sf_id,
        "Type": "ActionCadence",
        "Name": tracker.action_cadence.name,
    }
    assert body["Owner"] == {"Id": rep.sf_id, "Type": "User", "Name": rep.name}
    assert body["Target"]["Type"] == "Lead"
    assert body["Target"]["Name"] == str(tracker.target_lead)
    assert body["RelatedTo"] is None
    assert body["CurrentStep"]["Id"] == body["CurrentStepId"]
    assert body["CreatedDate"].endswith("+0000")


# --------------------------------------------------------------------------- remove


def test_owner_removes_with_a_disposition(tracker, rep):
    response = post(rep, tracker, "remove", {"completion_disposition": "Not Interested"})
    assert response.status_code == 200
    body = response.json()
    assert body["State"] == "Complete"
    assert body["CompletionReason"] == "ManuallyRemoved"
    assert body["CompletionDisposition"] == "Not Interested"
    assert body["IsTrackerActive"] is False
    assert body["LastModifiedById"] == rep.sf_id


def test_remove_without_a_disposition(tracker, rep):
    response = post(rep, tracker, "remove")
    assert response.status_code == 200
    assert response.json()["CompletionDisposition"] is None


def test_a_made_up_disposition_is_400_and_names_the_choices(tracker, rep):
    response = post(rep, tracker, "remove", {"completion_disposition": "Bored"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert "Invalid CompletionDisposition 'Bored'" in body["detail"]
    assert "Not Interested" in body["detail"]
    tracker.refresh_from_db()
    assert tracker.state == "Running"


def test_removing_twice_is_a_409_conflict(tracker, rep):
    post(rep, tracker, "remove")
    response = post(rep, tracker, "remove")
    assert response.status_code == 409
    assert response.json()["code"] == "INVALID_OPERATION"
    assert "already Complete" in response.json()["detail"]


def test_read_only_teammate_gets_403_and_outsider_404(tracker, teammate, outsider):
    response = post(teammate, tracker, "remove", {"completion_disposition": "Success"})
    assert response.status_code == 403
    assert response.json()["code"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert post(outsider, tracker, "remove").status_code == 404
    for action in ("pause", "resume"):
        assert post(outsider, tracker, action).status_code == 404
    tracker.refresh_from_db()
    assert tracker.state == "Running"


def test_teammate_with_edit_access_can_remove(rep):
    editor = UserFactory()
    share_by_rule(rep, editor, "Edit", "Editors")
    tracker = running_tracker(owner=rep)
    assert post(editor, tracker, "remove").status_code == 200


# --------------------------------------------------------------------------- pause / resume


def test_pause_with_a_resume_time_then_resume(tracker, rep):
    resume_at = timezone.now() + dt.timedelta(days=2)
    response = post(rep, tracker, "pause", {"resume_at": resume_at.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert body["State"] == "Paused"
    assert body["ScheduledResumeDateTime"].startswith(resume_at.strftime("%Y-%m-%dT%H:%M"))
    response = post(rep, tracker, "resume")
    assert response.status_code == 200
    assert response.json()["State"] == "Running"
    assert response.json()["ScheduledResumeDateTime"] is None


def test_pause_accepts_salesforce_datetimes(tracker, rep):
    resume_at = (timezone.now() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    assert post(rep, tracker, "pause", {"resume_at": resume_at}).status_code == 200


def test_pause_in_the_past_is_400(tracker, rep):
    past = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    response = post(rep, tracker, "pause", {"resume_at": past})
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_FIELD"
    assert "future" in response.json()["detail"]


def test_resume_a_running_tracker_is_409(tracker, rep):
    response = post(rep, tracker, "resume")
    assert response.status_code == 409
    assert "must be Paused" in response.json()["detail"]


def test_pause_garbage_datetime_is_400(tracker, rep):
    response = post(rep, tracker, "pause", {"resume_at": "next tuesday"})
    assert response.status_code == 400
    assert "resume_at" in response.json()["fields"]


# --------------------------------------------------------------------------- explain access


def test_explain_my_own_access(tracker, teammate):
    response = client_for(teammate).get(f"/api/trackers/{tracker.sf_id}/access/")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == teammate.sf_id
    assert body["level"] == "Read"
    assert [grant["source"] for grant in body["grants"]] == ["sharing rule"]


def test_owner_explains_anyone_by_username_or_id(tracker, rep, teammate, outsider):
    url = f"/api/trackers/{tracker.sf_id}/access/"
    by_name = client_for(rep).get(url, {"user": teammate.username}).json()
    by_id = client_for(rep).get(url, {"user": teammate.sf_id}).json()
    assert by_name == by_id
    assert by_name["level"] == "Read"
    nobody = client_for(rep).get(url, {"user": outsider.username}).json()
    assert nobody["level"] is None
    assert nobody["grants"] == []
    assert client_for(rep).get(url, {"user": "no-such-user"}).status_code == 404


def test_only_all_access_explains_others(tracker, teammate, outsider, admin_user):
    url = f"/api/trackers/{tracker.sf_id}/access/"
    response = client_for(teammate).get(url, {"user": outsider.username})
    assert response.status_code == 403
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(admin_user).get(url, {"user": teammate.username}).status_code == 200
