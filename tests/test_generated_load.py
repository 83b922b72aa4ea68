"""generate_trackers' rows made by the database itself (``bulkload.DatabaseLoad``): the
invariants, the promised shares and dates, valid ids, and the same rows for a seed.
Run on SQLite and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from cadence_site import sfid
from tests.test_commands import Tracker, assert_tracker_invariants, run
from trackers.choices import (
    ACTIVE_STATES,
    CompletionReason,
    StepTrackerState,
    StepType,
    TrackerState,
)
from trackers.management.commands.generate_trackers import ACTIVE_DAYS, HISTORY_DAYS
from trackers.models import ActionCadenceStepTracker, Contact, Lead

TOTAL, ACTIVE = 4000, 1000


@pytest.fixture
def generated(db):
    started = timezone.now()
    run(
        "generate_trackers",
        trackers=TOTAL,
        active=ACTIVE,
        users=20,
        cadences=4,
        batch_size=1500,
        seed=11,
    )
    return started


def share(counter: Counter, key, total: int) -> float:
    return counter[key] / total


def test_generated_trackers_keep_every_invariant(generated):
    assert Tracker.count() == TOTAL
    assert Tracker.filter(state__in=ACTIVE_STATES).count() == ACTIVE
    assert Lead.objects.count() + Contact.objects.count() == ACTIVE + (TOTAL - ACTIVE) // 2
    assert_tracker_invariants()
    # LeadConverted trackers are on converted leads, which no active tracker is on.
    converted = Tracker.filter(completion_reason=CompletionReason.LEAD_CONVERTED)
    assert converted.exists()
    assert not converted.filter(target_lead__is_converted=False).exists()
    assert not converted.filter(target_lead__isnull=True).exists()


def test_generated_states_reasons_and_owners_have_the_promised_shares(generated):
    states = Counter(Tracker.values_list("state", flat=True))
    assert TrackerState.PROCESSING not in states
    assert share(states, TrackerState.RUNNING, ACTIVE) == pytest.approx(0.88, abs=0.04)
    assert share(states, TrackerState.PAUSED, ACTIVE) == pytest.approx(0.10, abs=0.03)
    assert states[TrackerState.INITIALIZING] > 0
    finished = TOTAL - ACTIVE
    assert share(states, TrackerState.ERROR, finished) == pytest.approx(0.015, abs=0.01)
    complete = states[TrackerState.COMPLETE]
    reasons = Counter(
        Tracker.filter(state=TrackerState.COMPLETE).values_list("completion_reason", flat=True)
    )
    assert share(reasons, CompletionReason.NO_MORE_STEPS, complete) == pytest.approx(0.34, abs=0.04)
    assert share(reasons, CompletionReason.MANUALLY_REMOVED, complete) == pytest.approx(
        0.30, abs=0.04
    )
    assert share(reasons, CompletionReason.AUTOMATICALLY_EXITED, complete) == pytest.approx(
        0.18, abs=0.03
    )
    assert set(reasons) == {
        CompletionReason.NO_MORE_STEPS,
        CompletionReason.MANUALLY_REMOVED,
        CompletionReason.AUTOMATICALLY_EXITED,
        CompletionReason.LEAD_CONVERTED,
        CompletionReason.DAISY_CHAINED,
        CompletionReason.AUTOMATICALLY_EXITED_DELETED_STEP,
        CompletionReason.AUTOMATICALLY_EXITED_INVALID_PARENT_STEP,
    }
    # Dispositions only where the mix gives them, most removals with one.
    with_disposition = set(
        Tracker.filter(completion_disposition__isnull=False).values_list(
            "completion_reason", flat=True
        )
    )
    assert with_disposition == {
        CompletionReason.MANUALLY_REMOVED,
        CompletionReason.NO_MORE_STEPS,
        CompletionReason.AUTOMATICALLY_EXITED,
    }
    # 20 users and one queue (5% of the owners), and every user owns some.
    owners = Counter(Tracker.values_list("owner_user", flat=True))
    assert len(owners) == 21
    assert share(owners, None, TOTAL) == pytest.approx(1 / 21, abs=0.015)
    iterations = Counter(Tracker.values_list("daisy_chain_iteration", flat=True))
    assert share(iterations, 1, TOTAL) == pytest.approx(0.92, abs=0.02)
    assert set(iterations) == {1, 2, 3}
    related = Tracker.filter(related_opportunity__isnull=False).count()
    assert related / TOTAL == pytest.approx(0.12, abs=0.025)
    # The inactive benchmark cadence (every tenth) would only have history: with four
    # cadences all enroll, and every one has trackers.
    assert Tracker.values("action_cadence").distinct().count() == 4


def test_generated_dates_are_spread_and_ordered(generated):
    now = timezone.now()
    assert not Tracker.filter(last_modified_date__lt=F("created_date")).exists()
    assert not Tracker.filter(created_date__gt=now).exists()
    active = Tracker.filter(state__in=ACTIVE_STATES)
    oldest_active = generated - dt.timedelta(days=ACTIVE_DAYS, minutes=1)
    assert not active.filter(created_date__lt=oldest_active).exists()
    finished = Tracker.exclude(state__in=ACTIVE_STATES)
    oldest = generated - dt.timedelta(days=HISTORY_DAYS, minutes=1)
    assert not finished.filter(created_date__lt=oldest).exists()
    # Spread over the two years: each quarter has some.
    created = sorted(finished.values_list("created_date", flat=True))
    quarters = Counter((now - when).days // 91 for when in created)
    assert all(quarters[quarter] > 0 for quarter in range(8))
    # Active ones bunch up in the recent weeks.
    recent = active.filter(created_date__gte=now - dt.timedelta(days=30)).count()
    assert recent / ACTIVE == pytest.approx(0.5, abs=0.06)  # sqrt(30 / 120)
    # Paused ones resume later or stay paused; Running ones on a Wait step are scheduled.
    paused = Tracker.filter(state=TrackerState.PAUSED)
    assert paused.filter(scheduled_resume_date_time__isnull=False).exists()
    assert paused.filter(scheduled_resume_date_time__isnull=True).exists()
    assert not Tracker.filter(scheduled_resume_date_time__lt=now).exists()


def test_generated_step_trackers_are_the_trackers_current_steps(generated):
    on_a_step = Tracker.filter(
        state__in=(TrackerState.RUNNING, TrackerState.PAUSED, TrackerState.ERROR)
    )
    assert ActionCadenceStepTracker.objects.count() == on_a_step.count()
    assert not on_a_step.filter(current_step__isnull=True).exists()
    assert not Tracker.exclude(pk__in=on_a_step).filter(current_step__isnull=False).exists()
    for tracker in on_a_step.select_related("current_step__action_cadence_step")[:400]:
        step = tracker.current_step
        assert step.action_cadence_tracker_id == tracker.pk
        assert step.action_cadence_step.action_cadence_id == tracker.action_cadence_id
        assert (step.target_lead_id, step.target_contact_id) == (
            tracker.target_lead_id,
            tracker.target_contact_id,
        )
        assert step.step_type == step.action_cadence_step.type
        if tracker.state == TrackerState.PAUSED:
            assert step.state == StepTrackerState.PAUSED
        elif tracker.state == TrackerState.RUNNING and step.step_type == StepType.WAIT:
            assert step.state == StepTrackerState.SCHEDULED
            assert step.due_date_time == tracker.scheduled_resume_date_time
        else:
            assert step.state == StepTrackerState.ACTIVE


def test_generated_ids_are_distinct_salesforce_ids(generated):
    for model, prefix in (
        (Tracker.model, "7CT"),
        (ActionCadenceStepTracker, ActionCadenceStepTracker.KEY_PREFIX),
        (Lead, "00Q"),
        (Contact, "003"),
    ):
        ids = list(model._base_manager.values_list("sf_id", flat=True))
        assert len(set(ids)) == len(ids)
        for value in ids:
            assert value.startswith(prefix)
            assert sfid.normalize(value[:15]) == value


def test_generated_people_look_like_people(generated):
    lead = Lead.objects.order_by("pk").first()
    assert lead.first_name and lead.last_name and lead.company
    assert lead.email == f"{lead.first_name}.{lead.last_name}.0@{lead.email.split('@')[1]}".lower()
    statuses = Counter(Lead.objects.values_list("status", flat=True))
    assert statuses["Closed - Converted"] == Lead.objects.filter(is_converted=True).count() > 0
    assert len(statuses) == 4
    assert len(set(Lead.objects.values_list("first_name", flat=True))) > 20
    assert Lead.objects.count() == round((ACTIVE + (TOTAL - ACTIVE) // 2) * 0.6)


@pytest.mark.django_db
def test_the_same_seed_makes_the_same_trackers():
    """Two loads with one seed: the same trackers in the same order (new ids, new
    leads, dates relative to the moment of the load)."""
    fields = (
        "state",
        "completion_reason",
        "completion_disposition",
        "daisy_chain_iteration",
        "action_cadence",
        "owner_user",
        "owner_queue",
        "error_message",
        "current_step__action_cadence_step",
    )
    options = {"trackers": 300, "active": 60, "users": 5, "cadences": 3, "batch_size": 128}
    run("generate_trackers", seed=7, **options)
    first = list(Tracker.order_by("pk").values_list(*fields))
    run("generate_trackers", seed=7, **options)
    second = list(Tracker.order_by("pk").values_list(*fields))[300:]
    assert first == second
    run("generate_trackers", seed=8, **options)
    assert list(Tracker.order_by("pk").values_list(*fields))[600:] != first


def test_a_permanent_table_named_like_a_staging_table_survives_a_load(db):
    """The loader drops its temporary staging tables (bulk_owner, bulk_plan, ...) by
    schema: a permanent table that happens to share a name is left alone."""
    with connection.cursor() as cursor:
        for name in ("bulk_owner", "bulk_plan"):
            cursor.execute(f"CREATE TABLE {name} (note VARCHAR(20))")
            cursor.execute(f"INSERT INTO {name} (note) VALUES ('keep me')")
    run("generate_trackers", trackers=50, active=10, users=3, cadences=2, seed=3)
    with connection.cursor() as cursor:
        for name in ("bulk_owner", "bulk_plan"):
            cursor.execute(f"SELECT note FROM {name}")
            assert cursor.fetchall() == [("keep me",)], name
