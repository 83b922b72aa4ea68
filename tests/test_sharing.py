"""Sharing: the owner / teammate-through-a-rule / outsider pattern, the role
hierarchy, queues, manual shares, the org-wide default and recalculation."""

import pytest
from django.db import IntegrityError, transaction

from sharing import access, recalc, services
from sharing.models import (
    ActionCadenceTrackerOwnerSharingRule,
    ActionCadenceTrackerShare,
    Group,
    GroupMember,
    Organization,
    RowCause,
)
from tests.factories import (
    GroupMemberFactory,
    QueueFactory,
    UserFactory,
    UserRoleFactory,
    running_tracker,
)
from trackers import lifecycle
from trackers.models import ActionCadenceTracker

pytestmark = pytest.mark.django_db


def visible_ids(user, level="read"):
    return set(ActionCadenceTracker.objects.visible_to(user, level).values_list("pk", flat=True))


def public_group(name, *users, **kwargs):
    group = Group.objects.create(name=name, developer_name=name.replace(" ", "_"), **kwargs)
    for user in users:
        GroupMember.objects.create(group=group, member_user=user)
    return group


def make_rule(source, grantee, level="Read", name="Team_rule"):
    rule = ActionCadenceTrackerOwnerSharingRule(
        name=name.replace("_", " "),
        developer_name=name,
        group=source,
        share_with_user=grantee if not isinstance(grantee, Group) else None,
        share_with_group=grantee if isinstance(grantee, Group) else None,
        access_level=level,
    )
    services.save_rule(rule, actor=None)
    return rule


@pytest.fixture
def org(rep, teammate, outsider):
    """rep owns a tracker; a rule shares rep's team's trackers with teammate (Read)."""
    east = public_group("East team", rep)
    readers = public_group("East readers", teammate)
    rule = make_rule(east, readers, "Read", "East_to_readers")
    tracker = running_tracker(owner=rep)
    return {"tracker": tracker, "rule": rule, "east": east, "readers": readers}


def test_owner_teammate_outsider(org, rep, teammate, outsider):
    tracker = org["tracker"]
    assert visible_ids(rep) == {tracker.pk}
    assert visible_ids(teammate) == {tracker.pk}
    assert visible_ids(outsider) == set()
    assert access.access_level(rep, tracker) == "all"
    assert access.access_level(teammate, tracker) == "read"
    assert access.access_level(outsider, tracker) is None
    assert visible_ids(teammate, "edit") == set()


def test_new_tracker_gets_rule_rows_when_assigned(org, rep, teammate):
    second = running_tracker(owner=rep)
    assert second.pk in visible_ids(teammate)
    assert ActionCadenceTrackerShare.objects.filter(parent=second, row_cause="Rule").count() == 1


def test_lifecycle_refuses_read_only_teammate_and_hides_from_outsider(org, teammate, outsider):
    tracker = org["tracker"]
    with pytest.raises(lifecycle.InsufficientAccess):
        lifecycle.remove_target(tracker, actor=teammate, disposition="Success")
    with pytest.raises(lifecycle.NotFound):
        lifecycle.remove_target(tracker, actor=outsider)
    tracker.refresh_from_db()
    assert tracker.state == "Running"


def test_edit_rule_lets_teammate_remove(rep, teammate):
    east = public_group("East team", rep)
    make_rule(east, teammate, "Edit", "East_edit")
    tracker = running_tracker(owner=rep)
    lifecycle.remove_target(tracker, actor=teammate, disposition="Duplicate")
    tracker.refresh_from_db()
    assert tracker.completion_disposition == "Duplicate"


def test_membership_change_recalculates(org, rep, teammate):
    GroupMember.objects.filter(group=org["readers"], member_user=teammate).delete()
    assert visible_ids(teammate) == set()
    GroupMember.objects.create(group=org["readers"], member_user=teammate)
    assert visible_ids(teammate) == {org["tracker"].pk}


def test_role_hierarchy_manager_sees_reps_and_what_is_shared_with_them(db):
    vp_role = UserRoleFactory(name="VP")
    manager_role = UserRoleFactory(name="Manager", parent_role=vp_role)
    rep_role = UserRoleFactory(name="Rep", parent_role=manager_role)
    vp = UserFactory(role=vp_role)
    manager = UserFactory(role=manager_role)
    rep = UserFactory(role=rep_role)
    other = UserFactory()
    own = running_tracker(owner=rep)
    shared_to_rep = running_tracker(owner=other)
    services.share_tracker(shared_to_rep, rep, "Read", actor=other)
    assert visible_ids(manager) == {own.pk, shared_to_rep.pk}
    assert visible_ids(vp) == {own.pk, shared_to_rep.pk}
    assert access.access_level(manager, own) == "all"
    assert access.access_level(manager, shared_to_rep) == "read"
    assert visible_ids(rep) == {own.pk, shared_to_rep.pk}
    # Hierarchy goes up, never down or sideways.
    assert visible_ids(rep) & {running_tracker(owner=manager).pk} == set()


def test_group_share_reaches_bosses_only_when_group_includes_bosses(db):
    manager_role = UserRoleFactory(name="Manager")
    manager = UserFactory(role=manager_role)
    rep = UserFactory(role=UserRoleFactory(name="Rep", parent_role=manager_role))
    owner = UserFactory()
    tracker = running_tracker(owner=owner)
    with_bosses = public_group("With bosses", rep, does_include_bosses=True)
    services.share_tracker(tracker, with_bosses, "Read", actor=owner)
    assert tracker.pk in visible_ids(manager)
    with_bosses.does_include_bosses = False
    with_bosses.save()
    assert tracker.pk not in visible_ids(manager)
    assert tracker.pk in visible_ids(rep)


def test_nested_groups_are_transitive(rep, teammate):
    inner = public_group("Inner", teammate)
    outer = public_group("Outer")
    GroupMember.objects.create(group=outer, member_group=inner)
    tracker = running_tracker(owner=rep)
    services.share_tracker(tracker, outer, "Edit", actor=rep)
    assert access.access_level(teammate, tracker) == "edit"


def test_queue_members_can_edit_queue_trackers(rep, teammate, outsider):
    queue = QueueFactory()
    GroupMemberFactory(group=queue, member_user=teammate)
    tracker = running_tracker(owner=queue)
    assert access.access_level(teammate, tracker) == "edit"
    assert access.access_level(outsider, tracker) is None
    lifecycle.pause(tracker, actor=teammate)
    with pytest.raises(lifecycle.InsufficientAccess):
        lifecycle.delete_tracker(tracker, actor=teammate)


@pytest.mark.parametrize(
    ("default", "read", "edit"),
    [("Private", False, False), ("Read", True, False), ("Edit", True, True)],
)
def test_org_wide_default(rep, outsider, default, read, edit):
    Organization.objects.update_or_create(pk=1, defaults={"tracker_default_access": default})
    tracker = running_tracker(owner=rep)
    assert (tracker.pk in visible_ids(outsider)) is read
    assert (tracker.pk in visible_ids(outsider, "edit")) is edit
    assert tracker.pk not in visible_ids(outsider, "all")


def test_manual_share_needs_all_access_and_rule_rows_are_read_only(org, rep, teammate, outsider):
    tracker = org["tracker"]
    with pytest.raises(services.SharingError):
        services.share_tracker(tracker, outsider, "Read", actor=teammate)
    with pytest.raises(services.SharingError) as refused:
        services.share_tracker(tracker, outsider, "All", actor=rep)
    assert refused.value.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    share = services.share_tracker(tracker, outsider, "Edit", actor=rep)
    assert access.access_level(outsider, tracker) == "edit"
    rule_row = ActionCadenceTrackerShare.objects.get(parent=tracker, row_cause=RowCause.RULE)
    with pytest.raises(services.SharingError):
        services.remove_share(rule_row, actor=rep)
    services.remove_share(share, actor=rep)
    assert access.access_level(outsider, tracker) is None


def test_share_rows_hold_their_invariants_in_the_database(org):
    with pytest.raises(IntegrityError), transaction.atomic():
        ActionCadenceTrackerShare.objects.create(
            parent=org["tracker"],
            access_level="Read",
            row_cause=RowCause.OWNER,
            user=org["tracker"].owner_user,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ActionCadenceTrackerShare.objects.create(
            parent=org["tracker"], access_level="Read", row_cause=RowCause.MANUAL
        )


def test_developer_name_rules(org):
    from django.core.exceptions import ValidationError

    for bad in ("1abc", "a__b", "ab_", "a-b", ""):
        rule = ActionCadenceTrackerOwnerSharingRule(
            name="x", developer_name=bad, group=org["east"], share_with_group=org["readers"]
        )
        with pytest.raises(ValidationError):
            services.save_rule(rule, actor=None)


def test_explain_access_lists_every_source(db):
    manager_role = UserRoleFactory(name="Manager")
    manager = UserFactory(role=manager_role)
    rep = UserFactory(role=UserRoleFactory(name="Rep", parent_role=manager_role))
    team = public_group("Team", rep)
    make_rule(team, manager, "Edit", "Team_to_manager")
    tracker = running_tracker(owner=rep)
    services.share_tracker(tracker, manager, "Read", actor=rep)
    sources = {(g["level"], g["source"]) for g in access.explain_access(manager, tracker)}
    assert sources == {
        ("All", "role hierarchy"),
        ("Edit", "sharing rule"),
        ("Read", "manual share"),
    }
    assert access.explain_access(rep, tracker)[0]["source"] == "owner"


def test_incremental_recalculation_equals_rebuild_from_scratch(db):
    users = UserFactory.create_batch(4)
    source = public_group("Source", users[0], users[1])
    target = public_group("Target", users[2])
    rule = make_rule(source, target, "Read", "Src_to_tgt")
    trackers = [running_tracker(owner=user) for user in users]
    GroupMember.objects.create(group=source, member_user=users[3])
    GroupMember.objects.filter(group=source, member_user=users[0]).delete()
    ActionCadenceTrackerOwnerSharingRule.objects.filter(pk=rule.pk).update(access_level="Edit")
    recalc.recalculate_rules([rule.pk])

    def rows():
        return set(
            ActionCadenceTrackerShare.objects.filter(row_cause="Rule").values_list(
                "parent_id", "group_id", "access_level", "rule_id"
            )
        )

    incremental = rows()
    assert {parent for parent, *_ in incremental} == {trackers[1].pk, trackers[3].pk}
    assert recalc.recalculate_rules()["added"] == 0  # idempotent
    recalc.rebuild_from_scratch()
    assert rows() == incremental


def test_visibility_query_count_does_not_grow_with_rules_groups_or_rows(
    rep, django_assert_num_queries
):
    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            list(ActionCadenceTracker.objects.visible_to(rep).with_related()[:50])
        return len(ctx.captured_queries)

    running_tracker(owner=rep)
    count_queries()  # the first call loads the user's permissions, cached on the user
    small = count_queries()
    # The org row (default access and sharing version; the org graph is cached per
    # version) and the list itself.
    assert small == 2
    for index in range(5):
        group = public_group(f"G{index}", rep)
        make_rule(group, UserFactory(), "Read", f"Rule_{index}")
        running_tracker(owner=rep)
    # The first list after a sharing change rebuilds the org graph (roles, groups,
    # members, users' roles: four queries) and counts, bounded, how much the user
    # sees (which shape the filter takes: sharing.access); then both are cached again.
    assert count_queries() == small + 4 + 1
    assert count_queries() == small


def test_page_and_count_shapes_select_the_same_rows(
    org, rep, teammate, outsider, monkeypatch, django_assert_num_queries
):
    """A page walks its sort order (wide shape) once a user sees WIDE_AT trackers; a
    count collects the set (narrow shape) until COUNT_WIDE_AT. Same rows either way."""
    from sharing.groups import current_graph

    running_tracker(owner=teammate)
    running_tracker(owner=outsider)
    expected = visible_ids(teammate)
    assert len(expected) == 2  # their own and rep's through the rule
    monkeypatch.setattr(access, "WIDE_AT", 2)
    monkeypatch.setattr(access, "COUNT_WIDE_AT", 3)
    current_graph().visible_shapes.clear()
    page, count = ActionCadenceTracker.objects.visible_pair(teammate)
    page_sql, count_sql = str(page.query), str(count.query)
    assert "EXISTS" in page_sql and "UNION" not in page_sql
    assert "UNION" in count_sql and "EXISTS" not in count_sql
    assert set(page.values_list("pk", flat=True)) == expected
    assert set(count.values_list("pk", flat=True)) == expected
    assert count.count() == page.count() == 2
    # Past COUNT_WIDE_AT a count walks the table too.
    monkeypatch.setattr(access, "COUNT_WIDE_AT", 2)
    assert "EXISTS" in str(ActionCadenceTracker.objects.visible_to(teammate, "read", "count").query)
    # One read of the org for both shapes (the shape itself is remembered).
    with django_assert_num_queries(1):
        ActionCadenceTracker.objects.visible_pair(teammate)
    with pytest.raises(ValueError, match="Unknown purpose"):
        ActionCadenceTracker.objects.visible_to(teammate, "read", "chart")


def test_a_boss_above_most_of_the_org_gets_the_per_row_share_test(db, monkeypatch):
    """In the wide shape, a share is tested per row for someone above most users (the
    rows their hierarchy misses are few) and through EXISTS for others; same rows."""
    from sharing.groups import current_graph

    boss_role = UserRoleFactory(name="VP")
    rep_role = UserRoleFactory(name="Rep", parent_role=boss_role)
    boss = UserFactory(role=boss_role)
    reps = [UserFactory(role=rep_role) for _ in range(3)]
    elsewhere = UserFactory(role=UserRoleFactory(name="Partner"))
    theirs = running_tracker(owner=elsewhere)
    running_tracker(owner=reps[0])
    services.share_tracker(theirs, reps[1], "Read", actor=elsewhere)
    narrow = {user.pk: visible_ids(user) for user in (boss, reps[1])}
    monkeypatch.setattr(access, "WIDE_AT", 0)
    current_graph().visible_shapes.clear()
    boss_sql = str(ActionCadenceTracker.objects.visible_to(boss).query)
    rep_sql = str(ActionCadenceTracker.objects.visible_to(reps[1]).query)
    assert "IS NOT NULL" in boss_sql and "EXISTS" not in boss_sql
    assert "EXISTS" in rep_sql and "IS NOT NULL" not in rep_sql
    assert visible_ids(boss) == narrow[boss.pk] and theirs.pk in narrow[boss.pk]
    assert visible_ids(reps[1]) == narrow[reps[1].pk] and theirs.pk in narrow[reps[1].pk]
