"""seed_demo and generate_trackers: what they build, and that they respect the
tracker's invariants (the database's constraints and the lifecycle's rules)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from cadence_site import registry, sfid
from sharing.models import Group, Organization, User, UserRole
from tests.factories import running_tracker
from trackers import bulkload, demo
from trackers.choices import (
    ACTIVE_STATES,
    OPEN_STEP_STATES,
    BulkJobStatus,
    CadenceState,
    ChangeType,
    CompletionDisposition,
    CompletionReason,
    TrackerState,
)
from trackers.management.commands import generate_trackers
from trackers.models import (
    ActionCadence,
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
    Contact,
    Lead,
)

Tracker = ActionCadenceTracker.all_objects


def run(command: str, *args: str, **options) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, **options)
    return out.getvalue()


def assert_tracker_invariants() -> None:
    """What every tracker must satisfy, whoever wrote it."""
    for lead_or_contact in ("target_lead", "target_contact"):
        doubled = (
            Tracker.filter(
                state__in=ACTIVE_STATES, is_deleted=False, **{f"{lead_or_contact}__isnull": False}
            )
            .values(lead_or_contact)
            .annotate(active=Count("pk"))
            .filter(active__gt=1)
        )
        assert not doubled.exists(), f"a {lead_or_contact} has two active trackers"
    complete = Q(state=TrackerState.COMPLETE)
    assert not Tracker.filter(complete, completion_reason__isnull=True).exists()
    assert not Tracker.filter(~complete, completion_reason__isnull=False).exists()
    assert not Tracker.filter(~complete, completion_disposition__isnull=False).exists()
    exited = Q(completion_reason=CompletionReason.AUTOMATICALLY_EXITED)
    assert not Tracker.filter(exited, exit_global_rule__isnull=True).exists()
    assert not Tracker.filter(~exited, exit_global_rule__isnull=False).exists()
    assert not Tracker.filter(
        completion_reason=CompletionReason.MANUALLY_REMOVED_NO_ACCESS
    ).exists(), "ManuallyRemovedNoAccess is reserved"
    assert not Tracker.filter(state=TrackerState.ERROR, error_message__isnull=True).exists()
    # IsTrackerActive is the database's, and agrees with State.
    assert not Tracker.filter(state__in=ACTIVE_STATES, is_tracker_active=False).exists()
    assert not Tracker.exclude(state__in=ACTIVE_STATES).filter(is_tracker_active=True).exists()
    # A running or paused tracker stands on an open step of its own.
    for tracker in Tracker.filter(
        state__in=(TrackerState.RUNNING, TrackerState.PAUSED)
    ).select_related("current_step"):
        assert tracker.current_step is not None
        assert tracker.current_step.action_cadence_tracker_id == tracker.pk
        assert tracker.current_step.state in OPEN_STEP_STATES
    assert not Lead.objects.filter(
        is_converted=True, cadence_trackers__state__in=ACTIVE_STATES
    ).exists(), "a converted lead cannot be active in a cadence"
    connection.check_constraints()  # every foreign key points at a row


# --------------------------------------------------------------------------- seed_demo


@pytest.mark.django_db
def test_seed_demo_builds_a_small_realistic_org_once():
    """GIVEN an empty database WHEN seed_demo runs THEN the demo org has people, sharing,
    cadences and trackers in every State and CompletionReason; a second run changes
    nothing; --reset builds it again without duplicates."""
    output = run("seed_demo", trackers=300)

    for username, password, _ in demo.logins():
        assert username in output and password in output
        assert User.objects.get(username=username).check_password(password)
    states = set(Tracker.filter(is_deleted=False).values_list("state", flat=True))
    assert states == set(TrackerState.values)
    reasons = set(Tracker.values_list("completion_reason", flat=True)) - {None}
    assert reasons == set(CompletionReason.values) - {CompletionReason.MANUALLY_REMOVED_NO_ACCESS}
    removed = Tracker.filter(completion_reason=CompletionReason.MANUALLY_REMOVED)
    assert set(removed.values_list("completion_disposition", flat=True)) == {
        *CompletionDisposition.values,
        None,
    }
    assert_tracker_invariants()

    # The lifecycle made what only it can make.
    assert Tracker.filter(
        state=TrackerState.PAUSED, scheduled_resume_date_time__gt=timezone.now()
    ).exists()
    processing = Tracker.filter(state=TrackerState.PROCESSING)
    assert processing.exists()
    assert {tracker.bulk_job.status for tracker in processing} == {BulkJobStatus.QUEUED}
    assert all(tracker.bulk_job.task_id for tracker in processing)
    chained = Tracker.filter(completion_reason=CompletionReason.DAISY_CHAINED).first()
    assert Tracker.filter(
        target_lead=chained.target_lead,
        target_contact=chained.target_contact,
        action_cadence__name=demo.NURTURE,
        daisy_chain_iteration=2,
    ).exists()
    converted = Tracker.filter(completion_reason=CompletionReason.LEAD_CONVERTED)
    assert all(tracker.target_lead.is_converted for tracker in converted)
    assert not Tracker.exclude(change_events__change_type=ChangeType.CREATE).exists()

    # Ninety days of history, with completions in the last week and long before.
    now = timezone.now()
    assert not Tracker.filter(
        created_date__lt=now - dt.timedelta(days=demo.HISTORY_DAYS + 1)
    ).exists()
    completed = Tracker.filter(state=TrackerState.COMPLETE)
    assert completed.filter(last_modified_date__gte=now - dt.timedelta(days=7)).exists()
    assert completed.filter(last_modified_date__lt=now - dt.timedelta(days=30)).exists()

    # Cadences: Active ones with daisy-chain, wait, call and email steps; a Draft; an Inactive.
    cadence_states = dict(ActionCadence.objects.values_list("name", "state"))
    assert cadence_states[demo.ROADSHOW] == CadenceState.DRAFT
    assert cadence_states[demo.LEGACY] == CadenceState.INACTIVE
    daisy = ActionCadence.objects.get(name=demo.OUTBOUND).steps.get(type="DaisyChain")
    assert daisy.chained_cadence.name == demo.NURTURE
    assert daisy.chained_cadence.state == CadenceState.ACTIVE

    # People: VP above two managers above their reps; a Sales Ops group; a queue.
    vp, east, west = (
        User.objects.get(username=name).role for name in ("vp", "manager_east", "manager_west")
    )
    assert vp.parent_role is None and east.parent_role == vp and west.parent_role == vp
    assert User.objects.get(username="rep_east_2").role.parent_role == east
    assert User.objects.get(username="rep_west_3").role.parent_role == west
    queue = Group.objects.get(name="Inbound Queue")
    assert queue.type == Group.Type.QUEUE
    assert queue.members.count() >= 2
    assert Tracker.filter(owner_queue=queue).exists()
    sales_ops = Group.objects.get(name="Sales Ops")
    assert sales_ops.type == Group.Type.REGULAR
    assert sales_ops.members.filter(member_user__username="salesops").exists()
    assert Organization.get().tracker_default_access == Organization.TrackerAccess.PRIVATE
    rep = User.objects.get(username="rep_east_1")
    assert rep.is_staff and not rep.is_superuser
    assert rep.has_perm("trackers.change_actioncadencetracker")
    assert rep.has_perm("trackers.view_lead")
    assert not rep.has_perm("trackers.view_all_trackers")
    assert User.objects.get(username="admin").is_superuser

    # Sharing: rules and manual shares, as the sharing issue's demo org asks.
    from sharing.access import access_level
    from sharing.models import ActionCadenceTrackerOwnerSharingRule, ActionCadenceTrackerShare

    assert ActionCadenceTrackerOwnerSharingRule.objects.count() == 2
    assert ActionCadenceTrackerShare.objects.filter(row_cause="Rule").exists()
    manual = ActionCadenceTrackerShare.objects.filter(row_cause="Manual").select_related(
        "parent", "user"
    )
    assert manual.count() == len(demo.MANUAL_SHARES) * 3
    for share in manual:
        assert access_level(share.user, share.parent) in ("read", "edit")

    counts = (
        Tracker.count(),
        ActionCadence.objects.count(),
        User.objects.count(),
        Lead.objects.count(),
    )
    output = run("seed_demo", trackers=300)
    assert "already there" in output and "rep_west_2" in output
    assert (
        Tracker.count(),
        ActionCadence.objects.count(),
        User.objects.count(),
        Lead.objects.count(),
    ) == counts

    run("seed_demo", "--reset", trackers=300)
    assert ActionCadence.objects.count() == len(demo.CADENCES)
    assert User.objects.count() == len(demo.DEMO_USERS)
    assert UserRole.objects.count() == len(demo.ROLES)
    assert Group.objects.filter(name="Inbound Queue").count() == 1
    assert abs(Tracker.count() - counts[0]) <= 10
    assert_tracker_invariants()


# --------------------------------------------------------------------------- generate_trackers


@pytest.mark.django_db
def test_generate_trackers_writes_exactly_n_trackers_with_m_active():
    output = run(
        "generate_trackers",
        trackers=600,
        active=150,
        users=7,
        cadences=4,
        batch_size=128,
        seed=3,
    )

    assert "rows/s" in output
    assert Tracker.count() == 600
    assert Tracker.filter(state__in=ACTIVE_STATES).count() == 150
    # One lead or contact per active tracker, one per two finished ones.
    assert Lead.objects.count() + Contact.objects.count() == 150 + 450 // 2
    assert not Tracker.filter(state=TrackerState.PROCESSING).exists()
    states = set(Tracker.values_list("state", flat=True))
    assert {TrackerState.RUNNING, TrackerState.PAUSED, TrackerState.COMPLETE} <= states
    reasons = set(Tracker.values_list("completion_reason", flat=True))
    assert {CompletionReason.NO_MORE_STEPS, CompletionReason.MANUALLY_REMOVED} <= reasons
    assert Tracker.filter(completion_disposition__isnull=False).exists()
    owners = Tracker.values("owner_user").distinct().count()
    assert owners >= 5
    assert_tracker_invariants()
    # Finished trackers carry no step trackers: only the active ones have their current step.
    assert (
        ActionCadenceStepTracker.objects.count()
        == Tracker.filter(current_step__isnull=False).count()
    )


@pytest.mark.django_db
def test_generate_trackers_can_write_create_events():
    run(
        "generate_trackers", trackers=80, active=20, users=3, cadences=2, seed=5, change_events=True
    )

    events = ActionCadenceTrackerChangeEvent.objects.select_related("tracker")
    assert events.count() == 80
    sobject = registry.for_model(ActionCadenceTracker)
    for event in events:
        tracker = event.tracker
        assert event.change_type == ChangeType.CREATE
        assert event.record_id == tracker.sf_id
        assert event.values.keys() == {spec.name for spec in sobject.fields}
        expected = sobject.to_dict(tracker)
        for name in (
            "Id",
            "State",
            "OwnerId",
            "TargetId",
            "ActionCadenceId",
            "CurrentStepId",
            "CompletionReason",
            "ExitGlobalRuleId",
            "IsTrackerActive",
            "CreatedDate",
        ):
            assert event.values[name] == expected[name], name


@pytest.mark.django_db
def test_generate_trackers_refuses_to_pass_the_org_limit_and_writes_nothing(settings):
    running_tracker()
    settings.CADENCE_ACTIVE_TRACKER_LIMIT = 100
    before = (
        Tracker.count(),
        User.objects.count(),
        Lead.objects.count(),
        ActionCadence.objects.count(),
    )

    with pytest.raises(CommandError, match="limit of 100 active trackers"):
        run("generate_trackers", trackers=500, active=100)

    assert (
        Tracker.count(),
        User.objects.count(),
        Lead.objects.count(),
        ActionCadence.objects.count(),
    ) == before
    run("generate_trackers", trackers=200, active=99, users=2, cadences=1)
    assert Tracker.filter(state__in=ACTIVE_STATES).count() == 100


@pytest.mark.django_db(transaction=True)
def test_generate_trackers_big_load_rebuilds_every_index(monkeypatch):
    """The fast path for big loads drops the indexes and builds them again: afterwards
    the schema is exactly as before and the data obeys every constraint."""
    monkeypatch.setattr(generate_trackers, "REBUILD_FROM", 100)
    tables = [ActionCadenceTracker._meta.db_table, ActionCadenceStepTracker._meta.db_table]
    with connection.cursor() as cursor:
        before = {
            table: connection.introspection.get_constraints(cursor, table) for table in tables
        }

    run("generate_trackers", trackers=400, active=90, users=4, cadences=2, batch_size=64)

    with connection.cursor() as cursor:
        after = {table: connection.introspection.get_constraints(cursor, table) for table in tables}
    assert after == before
    assert Tracker.count() == 400
    assert_tracker_invariants()


def test_bulk_ids_are_salesforce_ids():
    ids = bulkload.new_sf_ids("7CT", 5000)
    assert len(set(ids)) == 5000
    for value in ids:
        assert len(value) == 18 and value.startswith("7CT")
        assert sfid.normalize(value) == value
        assert sfid.normalize(value[:15]) == value


@pytest.mark.django_db
def test_generate_trackers_adds_groups_and_rules_and_shares_their_trackers():
    from sharing import recalc
    from sharing.models import ActionCadenceTrackerOwnerSharingRule, ActionCadenceTrackerShare

    output = run("generate_trackers", trackers=300, active=50, users=20, groups=8, rules=3, seed=5)
    assert "8 groups and 3 rules" in output
    assert Group.objects.filter(developer_name__startswith="Bench_G").count() == 8
    assert ActionCadenceTrackerOwnerSharingRule.objects.count() == 3
    rows = set(
        ActionCadenceTrackerShare.objects.filter(row_cause="Rule").values_list(
            "parent_id", "rule_id"
        )
    )
    assert rows  # the recalculation after the load shared the rules' trackers
    recalc.rebuild_from_scratch()
    assert (
        set(
            ActionCadenceTrackerShare.objects.filter(row_cause="Rule").values_list(
                "parent_id", "rule_id"
            )
        )
        == rows
    )
