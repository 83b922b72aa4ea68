"""The tracker detail page: fields by API name, timeline, history, access and sharing."""

from __future__ import annotations

import pytest

from cadence_site import registry
from sharing.models import ActionCadenceTrackerShare
from tests.dashboards.team import client_for
from trackers import lifecycle

pytestmark = pytest.mark.django_db


def test_detail_shows_every_field_by_api_name(team):
    (tracker,) = team.running(1)
    lifecycle.complete_step(tracker, actor=team.owner)
    response = client_for(team.owner).get(f"/trackers/{tracker.sf_id}/")
    html = response.content.decode()
    for spec in registry.get("ActionCadenceTracker").fields:
        assert f'data-field="{spec.name}"' in html
    assert f"{team.cadence.name}</a>" in html
    assert tracker.sf_id in html
    # The 15-character form of the Id opens the same page.
    assert client_for(team.owner).get(f"/trackers/{tracker.sf_id[:15]}/").status_code == 200


def test_detail_timeline_and_history(team):
    (tracker,) = team.running(1)
    lifecycle.complete_step(tracker, actor=team.owner)
    lifecycle.remove_target(tracker, actor=team.owner, disposition="Success")
    response = client_for(team.owner).get(f"/trackers/{tracker.sf_id}/")
    steps = [step.state for step in response.context["steps"]]
    assert steps == ["Completed", "Cancelled"]
    changes = [event["change_type"] for event in response.context["events"]]
    assert changes[-1] == "CREATE" and "UPDATE" in changes
    latest = response.context["events"][0]
    assert ("CompletionDisposition", "Success") in latest["changes"]
    assert latest["user"] == team.owner


def test_access_is_explained_for_each_user(team):
    (tracker,) = team.running(1)
    assert (
        client_for(team.owner).get(f"/trackers/{tracker.sf_id}/").context["grants"][0]["source"]
        == "owner"
    )
    teammate = client_for(team.teammate).get(f"/trackers/{tracker.sf_id}/")
    (grant,) = teammate.context["grants"]
    assert (grant["level"], grant["source"]) == ("Read", "sharing rule")
    assert "East readers" in grant["detail"]
    assert "shares" not in teammate.context  # only users with All access see the share rows
    manager = client_for(team.manager).get(f"/trackers/{tracker.sf_id}/")
    assert manager.context["level"] == "all"
    assert any(g["source"] == "role hierarchy" for g in manager.context["grants"])


def test_all_access_can_check_another_user(team):
    (tracker,) = team.running(1)
    client = client_for(team.owner)
    response = client.get(f"/trackers/{tracker.sf_id}/?username=teammate")
    assert response.context["checked_user"] == team.teammate
    assert response.context["checked_level"] == "read"
    outsider = client.get(f"/trackers/{tracker.sf_id}/?username=outsider")
    assert outsider.context["checked_level"] is None
    assert b"outsider cannot see this tracker" in outsider.content
    missing = client.get(f"/trackers/{tracker.sf_id}/?username=nobody")
    assert b"No user named" in missing.content
    # A read-only user cannot look up someone else's access.
    teammate = client_for(team.teammate).get(f"/trackers/{tracker.sf_id}/?username=owner")
    assert "checked_user" not in teammate.context


def test_owner_adds_and_removes_a_manual_share(team):
    (tracker,) = team.running(1)
    client = client_for(team.owner)
    assert client_for(team.outsider).get(f"/trackers/{tracker.sf_id}/").status_code == 404
    response = client.post(
        f"/trackers/{tracker.sf_id}/shares/",
        {"grantee": "outsider", "access_level": "Read"},
        follow=True,
    )
    assert any("Shared with outsider" in str(m) for m in response.context["messages"])
    assert client_for(team.outsider).get(f"/trackers/{tracker.sf_id}/").status_code == 200
    share = ActionCadenceTrackerShare.objects.get(parent=tracker, row_cause="Manual")
    assert f'data-share-id="{share.sf_id}"'.encode() in response.content
    client.post(f"/trackers/{tracker.sf_id}/shares/{share.sf_id}/remove/")
    assert client_for(team.outsider).get(f"/trackers/{tracker.sf_id}/").status_code == 404


def test_share_with_a_public_group(team):
    from tests.dashboards.team import public_group

    public_group("Night shift", team.outsider)
    (tracker,) = team.running(1)
    client_for(team.manager).post(
        f"/trackers/{tracker.sf_id}/shares/", {"grantee": "Night_shift", "access_level": "Edit"}
    )
    assert client_for(team.outsider).get(f"/trackers/{tracker.sf_id}/").status_code == 200


def test_rule_rows_cannot_be_removed_and_read_only_users_cannot_share(team):
    (tracker,) = team.running(1)
    rule_row = ActionCadenceTrackerShare.objects.filter(parent=tracker, row_cause="Rule").first()
    response = client_for(team.owner).post(
        f"/trackers/{tracker.sf_id}/shares/{rule_row.sf_id}/remove/", follow=True
    )
    notes = [str(message) for message in response.context["messages"]]
    assert any("maintained by sharing recalculation" in note for note in notes)
    assert ActionCadenceTrackerShare.objects.filter(pk=rule_row.pk).exists()
    response = client_for(team.teammate).post(
        f"/trackers/{tracker.sf_id}/shares/",
        {"grantee": "outsider", "access_level": "Read"},
        follow=True,
    )
    assert any("Only the owner" in str(m) for m in response.context["messages"])
    assert client_for(team.outsider).get(f"/trackers/{tracker.sf_id}/").status_code == 404


def test_outsider_cannot_share_or_unshare(team):
    (tracker,) = team.running(1)
    client = client_for(team.outsider)
    response = client.post(
        f"/trackers/{tracker.sf_id}/shares/", {"grantee": "outsider", "access_level": "Edit"}
    )
    assert response.status_code == 404
    rule_row = ActionCadenceTrackerShare.objects.filter(parent=tracker).first()
    assert (
        client.post(f"/trackers/{tracker.sf_id}/shares/{rule_row.sf_id}/remove/").status_code == 404
    )


def test_unknown_grantee_is_an_error_message(team):
    (tracker,) = team.running(1)
    response = client_for(team.owner).post(
        f"/trackers/{tracker.sf_id}/shares/",
        {"grantee": "ghost", "access_level": "Read"},
        follow=True,
    )
    notes = [str(message) for message in response.context["messages"]]
    assert any("No active user or group named 'ghost'" in note for note in notes)
