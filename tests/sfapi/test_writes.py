"""Create, update and delete through sobjects/{Object}: sharing rules, manual shares,
groups, members, roles and a user's role."""

import pytest

from sharing.models import (
    ActionCadenceTrackerOwnerSharingRule,
    ActionCadenceTrackerShare,
    Group,
    GroupMember,
    UserRole,
)
from tests.factories import UserFactory, UserRoleFactory, running_tracker
from tests.sfapi.conftest import BASE, public_group, query

pytestmark = pytest.mark.django_db


def visible(client) -> set[str]:
    body = query(client, "SELECT Id FROM ActionCadenceTracker").json()
    return {record["Id"] for record in body["records"]}


def created(response) -> str:
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["success"] is True and body["errors"] == []
    return body["id"]


def error_of(response, status=400) -> dict:
    assert response.status_code == status, response.json()
    return response.json()[0]


# --------------------------------------------------------------------------- sharing rules

RULES = f"{BASE}/sobjects/ActionCadenceTrackerOwnerSharingRule"


@pytest.fixture
def groups(rep, outsider):
    return public_group("West team", rep), public_group("West readers", outsider)


def rule_body(groups, **overrides):
    source, readers = groups
    return {
        "Name": "West to readers",
        "DeveloperName": "West_to_readers",
        "GroupId": source.sf_id,
        "UserOrGroupId": readers.sf_id,
        "AccessLevel": "Read",
        **overrides,
    }


def test_admin_manages_sharing_rules_and_access_follows(api, admin_user, rep, outsider, groups):
    tracker = running_tracker(owner=rep)
    admin = api(admin_user)
    assert visible(api(outsider)) == set()
    rule_id = created(admin.post(RULES, rule_body(groups), format="json"))
    assert visible(api(outsider)) == {tracker.sf_id}
    rule = ActionCadenceTrackerOwnerSharingRule.objects.get(sf_id=rule_id)
    assert rule.share_with_group == groups[1] and rule.created_by == admin_user

    assert (
        admin.patch(f"{RULES}/{rule_id}", {"AccessLevel": "Edit"}, format="json").status_code == 204
    )
    assert ActionCadenceTrackerShare.objects.get(rule=rule).access_level == "Edit"

    assert admin.get(f"{RULES}/{rule_id}").json()["AccessLevel"] == "Edit"
    assert admin.delete(f"{RULES}/{rule_id}").status_code == 204
    assert visible(api(outsider)) == set()


def test_reps_cannot_manage_rules(api, rep, groups):
    response = api(rep).post(RULES, rule_body(groups), format="json")
    assert error_of(response, 403)["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert not ActionCadenceTrackerOwnerSharingRule.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"AccessLevel": "All"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "AccessLevel"),
        ({"DeveloperName": "2_bad__name_"}, "FIELD_INTEGRITY_EXCEPTION", "DeveloperName"),
        ({"Name": "x" * 81}, "STRING_TOO_LONG", "Name"),
        ({"GroupId": "00G000000000000EAA"}, "INVALID_CROSS_REFERENCE_KEY", "GroupId"),
        ({"GroupId": "garbage"}, "MALFORMED_ID", "GroupId"),
        ({"Id": "02c000000000000AAA"}, "INVALID_FIELD_FOR_INSERT_UPDATE", "Id"),
        ({"AccessLevel": None}, "REQUIRED_FIELD_MISSING", "AccessLevel"),
        ({"Description": 5}, "JSON_PARSER_ERROR", "Description"),
    ],
)
def test_rule_validation_errors(api, admin_user, groups, overrides, code, field):
    response = api(admin_user).post(RULES, rule_body(groups, **overrides), format="json")
    error = error_of(response)
    assert error["errorCode"] == code
    assert error["fields"] == [field]


def test_missing_and_unknown_fields(api, admin_user, groups):
    client = api(admin_user)
    missing = error_of(client.post(RULES, {"Name": "Only a name"}, format="json"))
    assert missing["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert set(missing["fields"]) == {"DeveloperName", "GroupId", "UserOrGroupId", "AccessLevel"}
    unknown = error_of(client.post(RULES, rule_body(groups, Bogus=1), format="json"))
    assert unknown["errorCode"] == "INVALID_FIELD"
    duplicate = client.post(RULES, rule_body(groups), format="json")
    created(duplicate)
    again = error_of(client.post(RULES, rule_body(groups), format="json"))
    assert again["errorCode"] == "DUPLICATE_VALUE" and again["fields"] == ["DeveloperName"]


# --------------------------------------------------------------------------- manual shares

SHARES = f"{BASE}/sobjects/ActionCadenceTrackerShare"


def test_owner_shares_and_unshares_a_tracker(api, rep, outsider, org):
    tracker = org["trackers"][0]
    body = {"ParentId": tracker.sf_id, "UserOrGroupId": outsider.sf_id, "AccessLevel": "Read"}
    share_id = created(api(rep).post(SHARES, body, format="json"))
    assert visible(api(outsider)) == {tracker.sf_id}
    share = ActionCadenceTrackerShare.objects.get(sf_id=share_id)
    assert share.row_cause == "Manual" and share.user == outsider

    response = api(rep).patch(f"{SHARES}/{share_id}", {"AccessLevel": "Edit"}, format="json")
    assert response.status_code == 204
    share.refresh_from_db()
    assert share.access_level == "Edit"

    refused = api(rep).patch(f"{SHARES}/{share_id}", {"ParentId": tracker.sf_id}, format="json")
    assert error_of(refused)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"

    assert api(rep).delete(f"{SHARES}/{share_id}").status_code == 204
    assert visible(api(outsider)) == set()


def test_only_all_access_shares(api, teammate, outsider, org):
    tracker = org["trackers"][0]
    body = {"ParentId": tracker.sf_id, "UserOrGroupId": outsider.sf_id, "AccessLevel": "Read"}
    read_only = api(teammate).post(SHARES, body, format="json")
    assert error_of(read_only, 403)["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    invisible = api(outsider).post(SHARES, body, format="json")
    assert error_of(invisible)["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert not ActionCadenceTrackerShare.objects.filter(row_cause="Manual").exists()


def test_share_refusals(api, rep, outsider, org):
    tracker = org["trackers"][0]
    base = {"ParentId": tracker.sf_id, "UserOrGroupId": outsider.sf_id}
    all_access = error_of(api(rep).post(SHARES, {**base, "AccessLevel": "All"}, format="json"))
    assert all_access["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    rule_cause = api(rep).post(
        SHARES, {**base, "AccessLevel": "Read", "RowCause": "Rule"}, format="json"
    )
    assert error_of(rule_cause)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_rule_rows_are_read_only(api, rep, teammate, org):
    response = query(
        api(rep),
        "SELECT Id, RowCause, UserOrGroupId FROM ActionCadenceTrackerShare WHERE RowCause = 'Rule'",
    )
    rule_rows = response.json()["records"]
    assert len(rule_rows) == 2
    row_url = f"{SHARES}/{rule_rows[0]['Id']}"
    patch = api(rep).patch(row_url, {"AccessLevel": "Edit"}, format="json")
    assert error_of(patch)["errorCode"] == "INVALID_OPERATION"
    delete = api(rep).delete(row_url)
    assert error_of(delete)["errorCode"] == "INVALID_OPERATION"
    assert ActionCadenceTrackerShare.objects.filter(row_cause="Rule").count() == 2


def test_share_rows_follow_their_tracker(api, rep, outsider, org):
    soql = "SELECT Id FROM ActionCadenceTrackerShare"
    assert query(api(rep), soql).json()["totalSize"] == 2
    assert query(api(outsider), soql).json()["totalSize"] == 0


# --------------------------------------------------------------------------- groups, roles, users


def test_groups_and_members(api, admin_user, rep, outsider):
    client = api(admin_user)
    tracker = running_tracker(owner=rep)
    source_id = created(
        client.post(
            f"{BASE}/sobjects/Group",
            {"Name": "Source", "DeveloperName": "Source", "Type": "Regular"},
            format="json",
        )
    )
    readers_id = created(
        client.post(
            f"{BASE}/sobjects/Group",
            {"Name": "Readers", "DeveloperName": "Readers", "Type": "Regular"},
            format="json",
        )
    )
    for group_id, member in ((source_id, rep), (readers_id, outsider)):
        created(
            client.post(
                f"{BASE}/sobjects/GroupMember",
                {"GroupId": group_id, "UserOrGroupId": member.sf_id},
                format="json",
            )
        )
    created(
        client.post(
            RULES,
            {
                "Name": "Source to readers",
                "DeveloperName": "Source_to_readers",
                "GroupId": source_id,
                "UserOrGroupId": readers_id,
                "AccessLevel": "Read",
            },
            format="json",
        )
    )
    assert visible(api(outsider)) == {tracker.sf_id}
    membership = GroupMember.objects.get(group__sf_id=readers_id, member_user=outsider)
    member_url = f"{BASE}/sobjects/GroupMember/{membership.sf_id}"
    assert client.patch(member_url, {}, format="json").status_code == 405  # no update call
    assert client.delete(member_url).status_code == 204
    assert visible(api(outsider)) == set()


def test_group_picklist_and_permissions(api, admin_user, rep):
    body = {"Name": "Odd", "DeveloperName": "Odd", "Type": "Team"}
    bad = error_of(api(admin_user).post(f"{BASE}/sobjects/Group", body, format="json"))
    assert bad["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    denied = api(rep).post(f"{BASE}/sobjects/Group", {**body, "Type": "Regular"}, format="json")
    assert error_of(denied, 403)["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert not Group.objects.filter(developer_name="Odd").exists()


def test_roles_and_role_assignment_grant_hierarchy_access(api, admin_user, rep):
    client = api(admin_user)
    manager = UserFactory()
    tracker = running_tracker(owner=rep)
    boss_role = created(
        client.post(
            f"{BASE}/sobjects/UserRole",
            {"Name": "Manager", "DeveloperName": "Manager"},
            format="json",
        )
    )
    rep_role = created(
        client.post(
            f"{BASE}/sobjects/UserRole",
            {"Name": "Rep", "DeveloperName": "Rep", "ParentRoleId": boss_role},
            format="json",
        )
    )
    for user, role in ((manager, boss_role), (rep, rep_role)):
        response = client.patch(
            f"{BASE}/sobjects/User/{user.sf_id}", {"UserRoleId": role}, format="json"
        )
        assert response.status_code == 204
    assert visible(api(manager)) == {tracker.sf_id}
    rep.refresh_from_db()
    assert rep.role.sf_id == rep_role

    cycle = client.patch(
        f"{BASE}/sobjects/UserRole/{boss_role}", {"ParentRoleId": rep_role}, format="json"
    )
    assert error_of(cycle)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    protected = error_of(client.delete(f"{BASE}/sobjects/UserRole/{boss_role}"))
    assert protected["errorCode"] == "DELETE_FAILED"
    assert UserRole.objects.filter(sf_id=boss_role).exists()


def test_users_only_change_role_and_only_by_admins(api, admin_user, rep):
    role = UserRoleFactory()
    user_url = f"{BASE}/sobjects/User/{rep.sf_id}"
    denied = api(rep).patch(user_url, {"UserRoleId": role.sf_id}, format="json")
    assert error_of(denied, 403)["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    renamed = api(admin_user).patch(user_url, {"Username": "someone"}, format="json")
    assert error_of(renamed)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    made = api(admin_user).post(f"{BASE}/sobjects/User", {"Username": "new"}, format="json")
    assert made.status_code == 405
    cleared = api(admin_user).patch(user_url, {"UserRoleId": None}, format="json")
    assert cleared.status_code == 204
