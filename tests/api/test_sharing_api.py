"""Sharing rules and manual shares over the API."""

import pytest
from django.contrib.auth.models import Permission

from sharing.models import ActionCadenceTrackerOwnerSharingRule, ActionCadenceTrackerShare
from tests.api.conftest import client_for, public_group
from tests.factories import UserFactory, running_tracker

pytestmark = pytest.mark.django_db


def listed_tracker_ids(user):
    return {row["Id"] for row in client_for(user).get("/api/trackers/").json()["results"]}


def rule_body(source, grantee, **extra):
    return {
        "Name": "West to outsider",
        "DeveloperName": "West_to_outsider",
        "GroupId": source.sf_id,
        "UserOrGroupId": grantee.sf_id,
        "AccessLevel": "Read",
        **extra,
    }


@pytest.fixture
def rule_manager():
    user = UserFactory()
    user.user_permissions.add(
        Permission.objects.get(codename="change_actioncadencetrackerownersharingrule")
    )
    return user


# --------------------------------------------------------------------------- rules


def test_everyone_reads_the_rules(org, outsider):
    body = client_for(outsider).get("/api/sharing-rules/").json()
    assert [rule["DeveloperName"] for rule in body] == ["Team_rule"]
    assert body[0]["AccessLevel"] == "Read"
    assert body[0]["UserOrGroup"]["Type"] == "User"


def test_a_rule_created_over_the_api_shares_at_once(org, rep, outsider, rule_manager):
    """GIVEN a rule manager WHEN they share rep's group's trackers with the outsider
    THEN the outsider sees them right away (recalculation ran)."""
    source = public_group("West", rep)
    response = client_for(rule_manager).post(
        "/api/sharing-rules/", rule_body(source, outsider), "json"
    )
    assert response.status_code == 201, response.content
    assert response["X-Sharing-Recalculation"] == "inline"
    assert response.json()["DeveloperName"] == "West_to_outsider"
    assert response.json()["LastModifiedById"] == rule_manager.sf_id
    assert listed_tracker_ids(outsider) == {org["tracker"].sf_id}


def test_updating_and_deleting_a_rule_recalculates(org, teammate, admin_user):
    url = f"/api/sharing-rules/{org['rule'].sf_id}/"
    client = client_for(admin_user)
    response = client.patch(url, {"AccessLevel": "Edit"}, "json")
    assert response.status_code == 200
    assert response.json()["AccessLevel"] == "Edit"
    tracker = org["tracker"]
    assert client_for(teammate).post(f"/api/trackers/{tracker.sf_id}/pause/").status_code == 200
    assert client.delete(url).status_code == 204
    assert listed_tracker_ids(teammate) == set()


def test_rule_writes_need_the_permission(org, rep, teammate):
    source = public_group("West", rep)
    response = client_for(teammate).post("/api/sharing-rules/", rule_body(source, rep), "json")
    assert response.status_code == 403
    assert response.json()["code"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    url = f"/api/sharing-rules/{org['rule'].sf_id}/"
    assert client_for(rep).delete(url).status_code == 403
    assert ActionCadenceTrackerOwnerSharingRule.objects.count() == 1


@pytest.mark.parametrize(
    "change, field",
    [
        ({"DeveloperName": "bad__name"}, "DeveloperName"),
        ({"DeveloperName": "Team_rule"}, "DeveloperName"),
        ({"AccessLevel": "All"}, "AccessLevel"),
        ({"GroupId": "00G000000000000AAA"}, "GroupId"),
        ({"UserOrGroupId": "003000000000000AAA"}, "UserOrGroupId"),
        ({"Name": None}, "Name"),
    ],
)
def test_invalid_rules_are_400(org, rep, outsider, admin_user, change, field):
    body = rule_body(public_group("West", rep), outsider, **change)
    response = client_for(admin_user).post("/api/sharing-rules/", body, "json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


# --------------------------------------------------------------------------- shares


def shares(user, **params):
    return client_for(user).get("/api/shares/", params).json()["results"]


def test_share_rows_are_listed_for_readers_only(org, rep, teammate, outsider):
    rows = shares(rep)
    assert [(row["RowCause"], row["UserOrGroupId"]) for row in rows] == [("Rule", teammate.sf_id)]
    assert shares(teammate) == rows
    assert shares(outsider) == []
    share_id = rows[0]["Id"]
    assert client_for(outsider).get(f"/api/shares/{share_id}/").status_code == 404


def test_owner_shares_by_hand_and_takes_it_back(org, rep, outsider):
    tracker = org["tracker"]
    body = {"ParentId": tracker.sf_id, "UserOrGroupId": outsider.sf_id, "AccessLevel": "Edit"}
    response = client_for(rep).post("/api/shares/", body, "json")
    assert response.status_code == 201, response.content
    share = response.json()
    assert (share["RowCause"], share["AccessLevel"]) == ("Manual", "Edit")
    assert listed_tracker_ids(outsider) == {tracker.sf_id}
    assert client_for(outsider).post(f"/api/trackers/{tracker.sf_id}/pause/").status_code == 200
    assert client_for(rep).delete(f"/api/shares/{share['Id']}/").status_code == 204
    assert listed_tracker_ids(outsider) == set()


def test_sharing_again_changes_the_level(org, rep, outsider):
    body = {"ParentId": org["tracker"].sf_id, "UserOrGroupId": outsider.sf_id}
    client_for(rep).post("/api/shares/", {**body, "AccessLevel": "Edit"}, "json")
    client_for(rep).post("/api/shares/", {**body, "AccessLevel": "Read"}, "json")
    manual = ActionCadenceTrackerShare.objects.get(row_cause="Manual")
    assert manual.access_level == "Read"


def test_read_access_cannot_share_and_outsiders_cannot_name_the_tracker(org, teammate, outsider):
    body = {
        "ParentId": org["tracker"].sf_id,
        "UserOrGroupId": outsider.sf_id,
        "AccessLevel": "Read",
    }
    response = client_for(teammate).post("/api/shares/", body, "json")
    assert response.status_code == 403
    response = client_for(outsider).post(
        "/api/shares/", {**body, "UserOrGroupId": teammate.sf_id}, "json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_CROSS_REFERENCE_KEY"
    assert not ActionCadenceTrackerShare.objects.filter(row_cause="Manual").exists()


def test_manual_shares_give_read_or_edit_only(org, rep, outsider):
    body = {"ParentId": org["tracker"].sf_id, "UserOrGroupId": outsider.sf_id, "AccessLevel": "All"}
    response = client_for(rep).post("/api/shares/", body, "json")
    assert response.status_code == 400
    assert "Read or Edit" in response.json()["detail"]


def test_rule_rows_are_read_only(org, rep):
    rule_row = shares(rep)[0]
    response = client_for(rep).delete(f"/api/shares/{rule_row['Id']}/")
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_OPERATION"


def test_share_list_filters(org, rep, outsider):
    other = running_tracker(owner=rep)
    client_for(rep).post(
        "/api/shares/",
        {"ParentId": other.sf_id, "UserOrGroupId": outsider.sf_id, "AccessLevel": "Read"},
        "json",
    )
    assert {row["ParentId"] for row in shares(rep, tracker=other.sf_id)} == {other.sf_id}
    assert [row["RowCause"] for row in shares(rep, row_cause="Manual")] == ["Manual"]
