"""The sharing admin: owner sharing rules, tracker shares, API tokens and the
"why can this user see this tracker?" page.

Users follow the suite's pattern: ``rep`` owns trackers, ``teammate`` gets them
through a rule or a share, ``outsider`` sees none of them, ``admin_user`` is a
superuser. Rules and manual shares change only through ``sharing.services``.
"""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from sharing import services
from sharing.models import (
    ActionCadenceTrackerOwnerSharingRule,
    ActionCadenceTrackerShare,
    ApiToken,
    RowCause,
    User,
)
from tests.factories import UserFactory, UserRoleFactory, running_tracker
from tests.test_sharing import make_rule, public_group
from trackers.models import ActionCadenceTracker

pytestmark = pytest.mark.django_db

RULES = "admin:sharing_actioncadencetrackerownersharingrule"
SHARES = "admin:sharing_actioncadencetrackershare"
TOKENS = "admin:sharing_apitoken"
EXPLAIN = reverse("admin:sharing_actioncadencetrackershare_explain")
ONLY_FULL_ACCESS = "Only the owner, users above the owner in the role hierarchy"


# --------------------------------------------------------------------------- helpers


def staff(user, *perms):
    """Make ``user`` staff with these "app.codename" permissions (a fresh instance: no cache)."""
    user.is_staff = True
    user.save()
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)


SHARE_PERMS = (
    "sharing.view_actioncadencetrackershare",
    "sharing.add_actioncadencetrackershare",
    "sharing.change_actioncadencetrackershare",
    "sharing.delete_actioncadencetrackershare",
    "trackers.view_actioncadencetracker",
)
TOKEN_PERMS = ("sharing.view_apitoken", "sharing.add_apitoken", "sharing.change_apitoken")


def messages_of(response, level=None):
    return [
        str(message)
        for message in get_messages(response.wsgi_request)
        if level is None or message.level_tag == level
    ]


def visible_ids(user):
    return set(ActionCadenceTracker.objects.visible_to(user, "read").values_list("pk", flat=True))


def rule_form(source, *, user=None, group=None, **fields):
    return {
        "name": "East to readers",
        "developer_name": "East_to_readers",
        "description": "",
        "group": source.pk,
        "share_with_user": user.pk if user else "",
        "share_with_group": group.pk if group else "",
        "access_level": "Read",
        **fields,
    }


def run_action(client, url, action, records):
    payload = {"action": action, ACTION_CHECKBOX_NAME: [r.pk for r in records], "index": "0"}
    return client.post(url, payload, follow=True)


def login(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def superuser_client(client, admin_user):
    return login(client, admin_user)


@pytest.fixture
def east(rep):
    return public_group("East team", rep)


@pytest.fixture
def readers(teammate):
    return public_group("East readers", teammate)


# --------------------------------------------------------------------------- sharing rules


def test_a_rule_added_in_the_admin_shares_the_source_groups_trackers(
    superuser_client, rep, teammate, outsider, east, readers
):
    """GIVEN rep (in East team) owns two trackers
    WHEN an admin adds a rule sharing East team's trackers with East readers
    THEN each tracker gets a Rule row and teammate (a reader) can see both."""
    trackers = {running_tracker(owner=rep).pk, running_tracker(owner=rep).pk}

    response = superuser_client.post(
        reverse(f"{RULES}_add"), rule_form(east, group=readers), follow=True
    )

    assert response.status_code == 200
    assert "Sharing recalculated: 2 trackers shared by East to readers." in messages_of(response)
    rule = ActionCadenceTrackerOwnerSharingRule.objects.get(developer_name="East_to_readers")
    rows = ActionCadenceTrackerShare.objects.filter(rule=rule)
    assert {row.parent_id for row in rows} == trackers
    assert {(row.row_cause, row.group_id, row.access_level) for row in rows} == {
        ("Rule", readers.pk, "Read")
    }
    assert visible_ids(teammate) == trackers
    assert visible_ids(outsider) == set()
    assert rule.created_by is not None  # stamped by save_rule with the admin as actor


def test_the_rule_list_shows_source_grantee_level_and_trackers_shared(
    superuser_client, rep, teammate, east
):
    running_tracker(owner=rep)
    running_tracker(owner=rep)
    make_rule(east, teammate, "Edit")

    response = superuser_client.get(reverse(f"{RULES}_changelist"))

    assert response.status_code == 200
    [row] = response.context["cl"].result_list
    assert row.tracker_count == 2
    html = response.content.decode()
    assert "Team_rule" in html and "East team" in html and teammate.username in html
    assert EXPLAIN in html  # the object tools lead to the explain page


def test_a_large_org_queues_the_recalculation(superuser_client, rep, east, readers, settings):
    running_tracker(owner=rep)
    settings.SHARING_INLINE_RECALC_MAX_TRACKERS = 0

    response = superuser_client.post(
        reverse(f"{RULES}_add"), rule_form(east, group=readers), follow=True
    )

    assert any("queued for a worker" in message for message in messages_of(response, "warning"))
    assert DBTaskResult.objects.filter(task_path__endswith="recalculate_sharing").exists()
    assert not ActionCadenceTrackerShare.objects.exists()  # the worker has not run yet


@pytest.mark.parametrize(
    ("developer_name", "error"),
    [
        ("1st_rule", "must begin with a letter"),
        ("Rule-one", "can only contain letters, digits and underscores"),
        ("Rule_", "can't end with an underscore"),
        ("Rule__one", "two underscores in a row"),
    ],
)
def test_developer_name_errors_are_shown(superuser_client, east, readers, developer_name, error):
    response = superuser_client.post(
        reverse(f"{RULES}_add"), rule_form(east, group=readers, developer_name=developer_name)
    )

    assert response.status_code == 200
    assert error in " ".join(response.context["adminform"].form.errors["developer_name"])
    assert not ActionCadenceTrackerOwnerSharingRule.objects.exists()


def test_a_taken_developer_name_is_refused(superuser_client, east, readers, teammate):
    make_rule(east, teammate, name="East_to_readers")

    response = superuser_client.post(reverse(f"{RULES}_add"), rule_form(east, group=readers))

    assert "already exists" in " ".join(response.context["adminform"].form.errors["developer_name"])
    assert ActionCadenceTrackerOwnerSharingRule.objects.count() == 1


@pytest.mark.parametrize("grantees", ["both", "neither"])
def test_a_rule_shares_with_exactly_one_user_or_group(
    superuser_client, east, readers, teammate, grantees
):
    chosen = {"user": teammate, "group": readers} if grantees == "both" else {}

    response = superuser_client.post(reverse(f"{RULES}_add"), rule_form(east, **chosen))

    errors = response.context["adminform"].form.errors
    expected = (
        "Share with a user or a group, not both."
        if grantees == "both"
        else "Choose the user or the group to share with."
    )
    assert expected in str(errors)
    assert "Constraint" not in str(errors)
    assert not ActionCadenceTrackerOwnerSharingRule.objects.exists()


def test_users_and_groups_are_never_a_full_select(superuser_client, east):
    for _ in range(3):
        UserFactory()

    html = superuser_client.get(reverse(f"{RULES}_add")).content.decode()

    # Autocomplete widgets render only the chosen option, never every user.
    assert "admin-autocomplete" in html
    assert "rep_outsider" not in html and User.objects.count() >= 3


def test_changing_a_rules_grantee_moves_its_rows(superuser_client, rep, teammate, outsider, east):
    tracker = running_tracker(owner=rep)
    rule = make_rule(east, teammate)

    superuser_client.post(
        reverse(f"{RULES}_change", args=[rule.pk]),
        rule_form(east, user=outsider, name="East rule", developer_name="East_rule"),
        follow=True,
    )

    assert visible_ids(outsider) == {tracker.pk}
    assert visible_ids(teammate) == set()


def test_deleting_a_rule_removes_its_rule_rows(superuser_client, rep, teammate, east, readers):
    tracker = running_tracker(owner=rep)
    rule = make_rule(east, readers)
    url = reverse(f"{RULES}_delete", args=[rule.pk])

    confirmation = superuser_client.get(url)
    assert confirmation.status_code == 200
    assert "Tracker shares (Sharing Rule): 1" in confirmation.content.decode()

    response = superuser_client.post(url, {"post": "yes"}, follow=True)

    assert not ActionCadenceTrackerOwnerSharingRule.objects.exists()
    assert not ActionCadenceTrackerShare.objects.filter(row_cause=RowCause.RULE).exists()
    assert any(
        "Removed 1 Sharing Rule share with the deleted rule: no tracker is shared through it"
        in message
        for message in messages_of(response)
    )
    assert tracker.pk not in visible_ids(teammate)


def test_deleting_selected_rules_removes_their_rows(superuser_client, rep, teammate, east):
    running_tracker(owner=rep)
    first = make_rule(east, teammate, name="First")
    second = make_rule(east, teammate, name="Second")
    payload = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [first.pk, second.pk]}
    url = reverse(f"{RULES}_changelist")

    confirmation = superuser_client.post(url, payload)
    assert "Tracker shares (Sharing Rule): 2" in confirmation.content.decode()
    response = superuser_client.post(url, {**payload, "post": "yes"}, follow=True)

    assert not ActionCadenceTrackerOwnerSharingRule.objects.exists()
    assert not ActionCadenceTrackerShare.objects.exists()
    assert any(
        "Removed 2 Sharing Rule shares with the deleted rules" in message
        for message in messages_of(response)
    )


def test_recalculate_now_restores_missing_rows(superuser_client, rep, east, readers):
    tracker = running_tracker(owner=rep)
    rule = make_rule(east, readers)
    ActionCadenceTrackerShare.objects.filter(rule=rule).delete()  # drifted

    response = run_action(
        superuser_client, reverse(f"{RULES}_changelist"), "recalculate_now", [rule]
    )

    assert "Recalculated 1 sharing rule: 1 share row added, 0 removed, 0 updated." in (
        messages_of(response)
    )
    assert ActionCadenceTrackerShare.objects.get(rule=rule).parent_id == tracker.pk


def test_rules_need_the_model_permissions(client, rep, east, readers):
    viewer = staff(rep, "sharing.view_actioncadencetrackerownersharingrule")
    login(client, viewer)

    assert client.get(reverse(f"{RULES}_changelist")).status_code == 200
    assert client.get(reverse(f"{RULES}_add")).status_code == 403
    response = client.post(reverse(f"{RULES}_add"), rule_form(east, group=readers))
    assert response.status_code == 403
    assert not ActionCadenceTrackerOwnerSharingRule.objects.exists()


# --------------------------------------------------------------------------- tracker shares


def share_form(tracker, *, user=None, group=None, level="Read"):
    return {
        "parent": tracker.pk,
        "user": user.pk if user else "",
        "group": group.pk if group else "",
        "access_level": level,
    }


def test_the_owner_adds_and_removes_a_manual_share(client, rep, teammate):
    tracker = running_tracker(owner=rep)
    login(client, staff(rep, *SHARE_PERMS))

    response = client.post(
        reverse(f"{SHARES}_add"), share_form(tracker, user=teammate, level="Edit"), follow=True
    )

    share = ActionCadenceTrackerShare.objects.get(parent=tracker, user=teammate)
    assert (share.row_cause, share.access_level, share.created_by_id) == ("Manual", "Edit", rep.pk)
    assert "was added successfully" in " ".join(messages_of(response))
    assert visible_ids(teammate) == {tracker.pk}

    response = client.post(reverse(f"{SHARES}_delete", args=[share.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not ActionCadenceTrackerShare.objects.filter(pk=share.pk).exists()
    assert visible_ids(teammate) == set()


def test_the_owner_changes_a_manual_shares_level(client, rep, teammate):
    tracker = running_tracker(owner=rep)
    share = services.share_tracker(tracker, teammate, "Read", actor=rep)
    login(client, staff(rep, *SHARE_PERMS))
    url = reverse(f"{SHARES}_change", args=[share.pk])

    # Only the level is editable: who and what it shares stay put.
    fields = client.get(url).context["adminform"].form.fields
    assert set(fields) == {"access_level"}
    assert [value for value, _label in fields["access_level"].choices] == ["Read", "Edit"]
    client.post(url, {"access_level": "Edit"})

    assert ActionCadenceTrackerShare.objects.get(pk=share.pk).access_level == "Edit"


def test_a_rep_without_full_access_is_refused_with_a_clear_message(
    client, rep, teammate, outsider, east
):
    """teammate can read rep's tracker through a rule but cannot share it onwards."""
    tracker = running_tracker(owner=rep)
    make_rule(east, teammate, "Edit")
    login(client, staff(teammate, *SHARE_PERMS))

    response = client.post(
        reverse(f"{SHARES}_add"), share_form(tracker, user=outsider), follow=True
    )

    assert any(ONLY_FULL_ACCESS in message for message in messages_of(response, "error"))
    assert not ActionCadenceTrackerShare.objects.filter(row_cause=RowCause.MANUAL).exists()
    # Back on the add form, with what was typed.
    assert response.context["adminform"].form.initial["parent"] == str(tracker.pk)

    share = services.share_tracker(tracker, outsider, "Read", actor=rep)
    response = client.post(
        reverse(f"{SHARES}_delete", args=[share.pk]), {"post": "yes"}, follow=True
    )
    assert any(ONLY_FULL_ACCESS in message for message in messages_of(response, "error"))
    assert ActionCadenceTrackerShare.objects.filter(pk=share.pk).exists()


def test_sharing_with_the_owner_is_refused_with_the_services_message(client, rep):
    tracker = running_tracker(owner=rep)
    login(client, staff(rep, *SHARE_PERMS))

    response = client.post(reverse(f"{SHARES}_add"), share_form(tracker, user=rep), follow=True)

    assert f"{rep.username} owns this tracker already." in messages_of(response, "error")


def test_a_tracker_the_user_cannot_read_is_not_a_choice(client, rep, teammate, outsider):
    tracker = running_tracker(owner=rep)
    login(client, staff(outsider, *SHARE_PERMS))

    response = client.post(reverse(f"{SHARES}_add"), share_form(tracker, user=teammate))

    assert "Select a valid choice" in str(response.context["adminform"].form.errors["parent"])
    assert tracker.sf_id not in response.content.decode()  # the refused form names nothing
    assert not ActionCadenceTrackerShare.objects.exists()


def test_rule_rows_cannot_be_changed_or_deleted(superuser_client, rep, teammate, east):
    running_tracker(owner=rep)
    make_rule(east, teammate)
    row = ActionCadenceTrackerShare.objects.get(row_cause=RowCause.RULE)
    change = reverse(f"{SHARES}_change", args=[row.pk])

    page = superuser_client.get(change)
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert not page.context["has_delete_permission"]
    assert superuser_client.post(change, {"access_level": "Edit"}).status_code == 403
    delete = reverse(f"{SHARES}_delete", args=[row.pk])
    assert superuser_client.get(delete).status_code == 403
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403

    changelist = reverse(f"{SHARES}_changelist")
    actions = dict(superuser_client.get(changelist).context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    response = run_action(superuser_client, changelist, "remove_manual_shares", [row])
    assert any("cannot be removed by hand" in message for message in messages_of(response))
    assert ActionCadenceTrackerShare.objects.get(pk=row.pk).access_level == "Read"


def test_remove_selected_manual_shares_goes_through_the_service(
    client, rep, teammate, outsider, east
):
    own = running_tracker(owner=rep)
    theirs = running_tracker(owner=teammate)
    make_rule(public_group("Teammates", teammate), rep, "Edit", name="To_rep")
    mine = services.share_tracker(own, outsider, "Read", actor=rep)
    not_mine = services.share_tracker(theirs, outsider, "Read", actor=teammate)
    login(client, staff(rep, *SHARE_PERMS))

    response = run_action(
        client, reverse(f"{SHARES}_changelist"), "remove_manual_shares", [mine, not_mine]
    )

    assert "Removed 1 manual share." in messages_of(response, "success")
    assert any(ONLY_FULL_ACCESS in message for message in messages_of(response, "error"))
    assert set(ActionCadenceTrackerShare.objects.filter(row_cause="Manual")) == {not_mine}


def test_the_share_list_shows_only_shares_of_readable_trackers(client, rep, teammate, outsider):
    own = running_tracker(owner=rep)
    theirs = running_tracker(owner=teammate)
    mine = services.share_tracker(own, outsider, "Read", actor=rep)
    hidden = services.share_tracker(theirs, outsider, "Read", actor=teammate)
    login(client, staff(rep, *SHARE_PERMS))

    response = client.get(reverse(f"{SHARES}_changelist"))

    assert [share.pk for share in response.context["cl"].result_list] == [mine.pk]
    assert theirs.sf_id not in response.content.decode()
    assert client.get(reverse(f"{SHARES}_change", args=[hidden.pk])).status_code == 404
    assert client.get(reverse(f"{SHARES}_delete", args=[hidden.pk])).status_code == 404


def test_shares_filter_by_row_cause_and_level_and_search_by_tracker_id(
    superuser_client, rep, teammate, outsider, east
):
    first, second = running_tracker(owner=rep), running_tracker(owner=rep)
    make_rule(east, teammate)
    manual = services.share_tracker(first, outsider, "Edit", actor=rep)
    changelist = reverse(f"{SHARES}_changelist")

    def listed(**params):
        response = superuser_client.get(changelist, params)
        return {share.pk for share in response.context["cl"].result_list}

    assert listed(row_cause__exact="Manual") == {manual.pk}
    assert listed(access_level__exact="Read") == set(
        ActionCadenceTrackerShare.objects.filter(row_cause="Rule").values_list("pk", flat=True)
    )
    assert listed(q=second.sf_id[:15]) == set(
        ActionCadenceTrackerShare.objects.filter(parent=second).values_list("pk", flat=True)
    )


def test_the_tracker_page_links_to_its_sharing(superuser_client, rep):
    tracker = running_tracker(owner=rep)

    html = superuser_client.get(
        reverse("admin:trackers_actioncadencetracker_change", args=[tracker.pk])
    ).content.decode()

    assert f"{EXPLAIN}?tracker={tracker.sf_id}" in html
    assert f"{reverse(f'{SHARES}_changelist')}?q={tracker.sf_id}" in html


# --------------------------------------------------------------------------- API tokens


def test_adding_a_token_shows_it_once_and_stores_only_its_digest(superuser_client, rep):
    response = superuser_client.post(
        reverse(f"{TOKENS}_add"), {"user": rep.pk, "name": "CI"}, follow=True
    )

    [shown] = messages_of(response, "warning")
    raw = shown.split(" is ", 1)[1].split(" ", 1)[0]
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.prefix) == (rep, "CI", raw[:8])
    assert token.digest == ApiToken.hash(raw)
    # Never again: not on the list, not on the token's page, and no digest anywhere.
    for url in (reverse(f"{TOKENS}_changelist"), reverse(f"{TOKENS}_change", args=[token.pk])):
        html = superuser_client.get(url).content.decode()
        assert raw not in html and token.digest not in html


def test_a_staff_user_issues_and_sees_only_their_own_tokens(client, rep, teammate):
    theirs, _ = ApiToken.issue(teammate, "theirs")
    login(client, staff(rep, *TOKEN_PERMS))

    form = client.get(reverse(f"{TOKENS}_add")).context["adminform"].form
    assert set(form.fields) == {"name"}
    client.post(reverse(f"{TOKENS}_add"), {"name": "laptop", "user": teammate.pk})

    mine = ApiToken.objects.get(name="laptop")
    assert mine.user == rep  # whatever was posted
    listed = client.get(reverse(f"{TOKENS}_changelist")).context["cl"].result_list
    assert [token.pk for token in listed] == [mine.pk]
    assert client.get(reverse(f"{TOKENS}_change", args=[theirs.pk])).status_code == 302


def test_revoke_stops_a_token(superuser_client, rep):
    token, raw = ApiToken.issue(rep, "old")
    kept, _ = ApiToken.issue(rep, "kept")

    response = run_action(superuser_client, reverse(f"{TOKENS}_changelist"), "revoke", [token])

    assert "Revoked 1 API token; they no longer authenticate." in messages_of(response)
    token.refresh_from_db()
    kept.refresh_from_db()
    assert token.revoked_at is not None and kept.revoked_at is None
    assert not ApiToken.objects.filter(digest=ApiToken.hash(raw), revoked_at__isnull=True)


# --------------------------------------------------------------------------- explain access


@pytest.fixture
def hierarchy(rep):
    """A manager above rep; rep owns a tracker that a rule and a manual share also give
    the manager."""
    manager_role = UserRoleFactory(name="Sales Manager")
    rep.role = UserRoleFactory(name="Sales Rep", parent_role=manager_role)
    rep.save()
    manager = staff(UserFactory(username="manager", role=manager_role))
    tracker = running_tracker(owner=rep)
    make_rule(public_group("East team", rep), public_group("Managers", manager), name="East_rule")
    services.share_tracker(tracker, manager, "Edit", actor=rep)
    return {"manager": manager, "tracker": tracker}


def explain(client, tracker_id, username=None):
    params = {"tracker": tracker_id}
    if username:
        params["user"] = username
    return client.get(EXPLAIN, params)


def test_explain_shows_every_source_for_a_manager_over_a_rep(client, rep, hierarchy):
    manager, tracker = hierarchy["manager"], hierarchy["tracker"]
    login(client, manager)

    response = explain(client, tracker.sf_id, "manager")

    assert response.status_code == 200
    grants = {(grant["source"], grant["level"]) for grant in response.context["grants"]}
    assert grants == {("role hierarchy", "All"), ("sharing rule", "Read"), ("manual share", "Edit")}
    html = response.content.decode()
    assert "Effective access: <strong>Full Access</strong>" in html
    assert "role Sales Manager is above rep_owner&#x27;s role Sales Rep" in html
    assert "rule East rule: shared with group Managers" in html

    rep_view = explain(client, tracker.sf_id[:15], "rep_owner")  # a 15-character Id too
    assert [grant["source"] for grant in rep_view.context["grants"]] == ["owner"]


def test_explain_defaults_to_the_requester(client, rep, hierarchy):
    login(client, hierarchy["manager"])

    response = explain(client, hierarchy["tracker"].sf_id)

    assert response.context["subject"] == hierarchy["manager"]


def test_explain_says_no_access_clearly(superuser_client, rep, outsider):
    tracker = running_tracker(owner=rep)

    response = explain(superuser_client, tracker.sf_id, outsider.username)

    assert response.status_code == 200
    assert response.context["grants"] == []
    assert "No access: rep_outsider cannot see this tracker" in response.content.decode()


def test_an_outsider_gets_not_found_exactly_like_a_missing_tracker(client, rep, outsider):
    tracker = running_tracker(owner=rep)
    login(client, staff(outsider))

    hidden = explain(client, tracker.sf_id, rep.username)
    missing = explain(client, ActionCadenceTracker.KEY_PREFIX + "000000000000", rep.username)

    for response in (hidden, missing):
        assert response.status_code == 404
        assert "Tracker not found" in response.content.decode()
        assert "grants" not in response.context


def test_read_access_is_not_enough_to_explain(client, rep, teammate, east):
    tracker = running_tracker(owner=rep)
    make_rule(east, teammate)
    login(client, staff(teammate))

    response = explain(client, tracker.sf_id, rep.username)

    assert response.status_code == 403
    assert "grants" not in response.context


def test_explain_validates_its_form(superuser_client):
    response = explain(superuser_client, "not-an-id", "nobody")

    errors = response.context["form"].errors
    assert "Enter a tracker Id" in str(errors["tracker"])
    assert "No user with this username." in str(errors["user"])


def test_the_sharing_app_page_links_to_explain(superuser_client):
    html = superuser_client.get(reverse("admin:app_list", args=["sharing"])).content.decode()

    assert EXPLAIN in html


# --------------------------------------------------------------------------- query budgets


def count_queries(client, url):
    client.get(url)  # warm the per-process sharing graph cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response


@pytest.mark.parametrize("who", ["superuser", "rep"])
def test_rule_changelist_query_count_is_pinned_and_does_not_grow(
    client, admin_user, rep, teammate, east, who, django_assert_max_num_queries
):
    """Superuser: session, user, the count, the navigation's org-wide-default check and
    the page in one query with its groups, users and tracker counts: 5. A rep adds their
    permissions (2) and the org-wide default for the visibility subquery of the counts,
    and has no navigation check: 7. The same for 2 rules and 30."""
    user = admin_user
    if who == "rep":
        user = staff(rep, "sharing.view_actioncadencetrackerownersharingrule")
    login(client, user)
    running_tracker(owner=rep)
    url = reverse(f"{RULES}_changelist")
    for n in range(2):
        make_rule(east, teammate, name=f"Rule_{n}")
    few, _ = count_queries(client, url)

    for n in range(2, 30):
        make_rule(east, teammate, name=f"Rule_{n}")
    many, response = count_queries(client, url)

    assert len(response.context["cl"].result_list) == 30
    assert [rule.tracker_count for rule in response.context["cl"].result_list] == [1] * 30
    assert many == few
    with django_assert_max_num_queries(5 if who == "superuser" else 7):
        client.get(url)


@pytest.mark.parametrize("who", ["superuser", "rep"])
def test_share_changelist_query_count_is_pinned_and_does_not_grow(
    client, admin_user, rep, who, django_assert_max_num_queries
):
    """Superuser: session, user, the bounded count, the navigation's org-wide-default
    check and the page in one query with its trackers, grantees and rules: 5. A rep adds
    their permissions (2) and the org-wide default for the visibility subquery, and has
    no navigation check: 7. The same for 2 shares and 30."""
    user = admin_user if who == "superuser" else staff(rep, *SHARE_PERMS)
    login(client, user)
    url = reverse(f"{SHARES}_changelist")
    tracker = running_tracker(owner=rep)
    for _ in range(2):
        services.share_tracker(tracker, UserFactory(), "Read", actor=rep)
    few, _ = count_queries(client, url)

    for _ in range(28):
        services.share_tracker(tracker, UserFactory(), "Read", actor=rep)
    many, response = count_queries(client, url)

    assert len(response.context["cl"].result_list) == 30
    assert many == few
    with django_assert_max_num_queries(5 if who == "superuser" else 7):
        client.get(url)
