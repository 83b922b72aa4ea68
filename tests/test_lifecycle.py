"""Every tracker transition, and every refused one, through the real database.

Each refusal checks that nothing changed: no tracker, no step tracker and no change
event was written or altered. Each accepted change checks that exactly one change
event describes it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cadence_site import registry
from sharing import services
from sharing.models import Group, Organization
from tests.factories import (
    ContactFactory,
    GroupMemberFactory,
    InvoiceFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    RuleFactory,
    StepFactory,
    make_cadence,
    running_tracker,
)
from trackers import lifecycle
from trackers.choices import CompletionDisposition, StepType
from trackers.lifecycle import (
    InsufficientAccess,
    InvalidTransition,
    InvalidValue,
    LifecycleError,
    NotFound,
    OrgLimitReached,
)
from trackers.models import (
    ActionCadence,
    ActionCadenceStep,
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
)

pytestmark = pytest.mark.django_db

Events = ActionCadenceTrackerChangeEvent.objects
# The fields every UPDATE stamps; the interesting ones are what else changed.
STAMPS = {"LastModifiedDate", "SystemModstamp", "LastModifiedById"}


# --------------------------------------------------------------------------- helpers


def reload(tracker: ActionCadenceTracker) -> ActionCadenceTracker:
    return ActionCadenceTracker.all_objects.get(pk=tracker.pk)


def snapshot() -> tuple:
    """Everything a refused transition must leave alone."""
    trackers = list(
        ActionCadenceTracker.all_objects.order_by("pk").values_list(
            "pk",
            "state",
            "completion_reason",
            "completion_disposition",
            "current_step_id",
            "scheduled_resume_date_time",
            "is_deleted",
            "system_modstamp",
        )
    )
    steps = list(ActionCadenceStepTracker.objects.order_by("pk").values_list("pk", "state"))
    return trackers, steps, Events.count()


class OneEvent:
    """``with OneEvent(tracker) as change:`` — the block writes exactly one event for
    ``tracker`` (and none for any other tracker); ``change.event`` is it."""

    def __init__(self, tracker: ActionCadenceTracker, change_type: str = "UPDATE") -> None:
        self.tracker = tracker
        self.change_type = change_type

    def __enter__(self) -> OneEvent:
        self.before = Events.order_by("-replay_id").values_list("replay_id", flat=True).first() or 0
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:
            return
        new = list(Events.filter(replay_id__gt=self.before))
        assert len(new) == 1, [(e.change_type, e.record_id, e.changed_fields) for e in new]
        self.event = new[0]
        assert self.event.tracker_id == self.tracker.pk
        assert self.event.change_type == self.change_type

    @property
    def changed(self) -> set[str]:
        return set(self.event.changed_fields) - STAMPS


@pytest.fixture
def cadence():
    return make_cadence(StepType.MAKE_A_CALL, StepType.SEND_AN_EMAIL)


@pytest.fixture
def tracker(rep, cadence):
    return running_tracker(owner=rep, cadence=cadence)


def step_of(tracker: ActionCadenceTracker) -> ActionCadenceStepTracker:
    return ActionCadenceStepTracker.objects.select_related("action_cadence_step").get(
        pk=reload(tracker).current_step_id
    )


def set_org_default(access: str) -> None:
    Organization.objects.update_or_create(pk=1, defaults={"tracker_default_access": access})


# --------------------------------------------------------------------------- assign


def test_assign_starts_the_target_running_on_the_first_step(rep, cadence):
    lead = LeadFactory()
    tracker = lifecycle.assign_target(lead, cadence, actor=rep)

    stored = reload(tracker)
    assert stored.state == "Running"
    assert stored.is_tracker_active is True
    assert stored.daisy_chain_iteration == 1
    assert stored.target_lead == lead and stored.target_contact is None
    assert stored.owner_user == rep and stored.owner_queue is None
    assert stored.created_by == rep and stored.last_modified_by == rep
    assert stored.completion_reason is None
    step = step_of(stored)
    assert step.state == "Active"
    assert step.action_cadence_step.step_name == "1_MakeACall"
    assert step.target_lead == lead
    assert ActionCadenceStepTracker.objects.filter(action_cadence_tracker=stored).count() == 1


def test_assign_writes_create_then_update_in_one_transaction(rep, cadence):
    tracker = lifecycle.assign_target(LeadFactory(), cadence, actor=rep, origin="api")
    create, update = Events.filter(tracker=tracker).order_by("replay_id")
    assert [create.change_type, update.change_type] == ["CREATE", "UPDATE"]
    assert [create.sequence_number, update.sequence_number] == [1, 2]
    assert create.transaction_key == update.transaction_key
    assert create.replay_id < update.replay_id
    assert create.values["State"] == "Initializing"
    assert create.values["Id"] == tracker.sf_id
    assert create.values["OwnerId"] == rep.sf_id
    assert create.changed_fields == []
    assert update.values["State"] == "Running"
    assert update.values["CurrentStepId"] == step_of(tracker).sf_id
    # Initializing → Running: still active, so IsTrackerActive did not change.
    assert set(update.changed_fields) - STAMPS == {"State", "CurrentStepId"}
    header = update.header()
    assert header["entityName"] == "ActionCadenceTracker"
    assert header["recordIds"] == [tracker.sf_id]
    assert header["commitUser"] == rep.sf_id
    assert header["changeOrigin"] == "api"
    assert abs(header["commitTimestamp"] / 1000 - timezone.now().timestamp()) < 60


def test_a_contact_can_be_assigned(rep, cadence):
    contact = ContactFactory()
    tracker = lifecycle.assign_target(contact, cadence, actor=rep)
    assert reload(tracker).target_contact == contact


def test_assign_with_related_to_and_attribution(rep, cadence):
    opportunity = OpportunityFactory()
    tracker = lifecycle.assign_target(
        LeadFactory(), cadence, actor=rep, related_to=opportunity, attribution_type="Maturation"
    )
    stored = reload(tracker)
    assert stored.related_opportunity == opportunity
    assert stored.related_to_attribution_type == "Maturation"
    invoice = InvoiceFactory()
    other = lifecycle.assign_target(
        ContactFactory(), cadence, actor=rep, related_to=invoice, attribution_type="Collected"
    )
    assert reload(other).related_invoice == invoice


def test_a_queue_can_own_a_tracker(rep, cadence):
    queue = QueueFactory()
    tracker = lifecycle.assign_target(LeadFactory(), cadence, actor=rep, owner=queue)
    stored = reload(tracker)
    assert stored.owner_queue == queue and stored.owner_user is None
    assert Events.get(tracker=tracker, change_type="CREATE").values["OwnerId"] == queue.sf_id


def assert_assign_refused(error, rep, target, cadence, match, **kwargs):
    before = snapshot()
    with pytest.raises(error, match=match):
        lifecycle.assign_target(target, cadence, actor=rep, **kwargs)
    assert snapshot() == before


@pytest.mark.parametrize("state", ["Draft", "Inactive", "Deleting", "Error"])
def test_assign_to_a_cadence_that_is_not_active_is_refused(rep, state):
    cadence = make_cadence(StepType.MAKE_A_CALL, state=state)
    assert_assign_refused(InvalidTransition, rep, LeadFactory(), cadence, "only Active")


def test_assign_of_a_target_already_active_is_refused(rep, tracker):
    other = make_cadence(StepType.SEND_AN_EMAIL)
    assert_assign_refused(
        InvalidTransition, rep, tracker.target_lead, other, "already active in cadence"
    )


def test_a_target_whose_tracker_finished_can_be_assigned_again(rep, tracker, cadence):
    lifecycle.remove_target(tracker, actor=rep)
    again = lifecycle.assign_target(tracker.target_lead, cadence, actor=rep)
    assert reload(again).state == "Running"


def test_assign_of_a_converted_lead_is_refused(rep, cadence):
    lead = LeadFactory(is_converted=True)
    assert_assign_refused(InvalidTransition, rep, lead, cadence, "converted")


def test_assign_with_an_unknown_attribution_type_is_refused(rep, cadence):
    assert_assign_refused(
        InvalidValue,
        rep,
        LeadFactory(),
        cadence,
        "Invalid RelatedToAttributionType",
        related_to=OpportunityFactory(),
        attribution_type="Bribery",
    )


def test_assign_with_an_attribution_type_but_no_related_to_is_refused(rep, cadence):
    assert_assign_refused(
        InvalidValue,
        rep,
        LeadFactory(),
        cadence,
        "needs a RelatedToId",
        attribution_type="Collected",
    )


def test_assign_to_a_group_that_is_not_a_queue_is_refused(rep, cadence):
    group = Group.objects.create(name="Team", developer_name="Team", type=Group.Type.REGULAR)
    assert_assign_refused(InvalidValue, rep, LeadFactory(), cadence, "not a queue", owner=group)


def test_assign_to_a_cadence_without_steps_is_refused(rep):
    empty = ActionCadence.objects.create(name="Empty", state="Active", owner=rep)
    assert_assign_refused(InvalidTransition, rep, LeadFactory(), empty, "no steps")


def test_assign_of_something_that_is_not_a_lead_or_contact_is_refused(rep, cadence):
    assert_assign_refused(InvalidValue, rep, OpportunityFactory(), cadence, "Lead or a Contact")


def test_the_org_limit_refuses_one_tracker_too_many_and_writes_nothing(rep, cadence, settings):
    settings.CADENCE_ACTIVE_TRACKER_LIMIT = 2
    first = running_tracker(owner=rep, cadence=cadence)
    running_tracker(owner=rep, cadence=cadence)
    lead = LeadFactory()
    before = snapshot()
    with pytest.raises(OrgLimitReached, match="limit is 2") as refused:
        lifecycle.assign_target(lead, cadence, actor=rep)
    assert refused.value.code == "LIMIT_EXCEEDED"
    assert snapshot() == before
    assert not ActionCadenceTracker.all_objects.filter(target_lead=lead).exists()
    # Only active trackers count: finishing one makes room.
    lifecycle.remove_target(first, actor=rep)
    assert reload(lifecycle.assign_target(lead, cadence, actor=rep)).state == "Running"


def test_paused_and_error_trackers_count_against_the_limit_as_the_seed_says(rep, cadence, settings):
    settings.CADENCE_ACTIVE_TRACKER_LIMIT = 2
    paused = running_tracker(owner=rep, cadence=cadence)
    lifecycle.pause(paused, actor=rep)
    broken = running_tracker(owner=rep, cadence=cadence)
    with pytest.raises(OrgLimitReached):
        running_tracker(owner=rep, cadence=cadence)
    # Error is not an active state: it frees a slot ...
    lifecycle.mark_error(broken, "mailbox disconnected")
    third = running_tracker(owner=rep, cadence=cadence)
    # ... and retrying it needs one back.
    with pytest.raises(OrgLimitReached):
        lifecycle.retry(broken, actor=rep)
    lifecycle.remove_target(third, actor=rep)
    assert lifecycle.retry(broken, actor=rep).state == "Running"


# --------------------------------------------------------------------------- pause / resume


def test_pause_without_a_resume_time(rep, tracker):
    with OneEvent(tracker) as change:
        lifecycle.pause(tracker, actor=rep)
    stored = reload(tracker)
    assert stored.state == "Paused"
    assert stored.is_tracker_active is True
    assert stored.scheduled_resume_date_time is None
    assert step_of(stored).state == "Paused"
    assert change.changed == {"State"}
    assert change.event.values == {
        "State": "Paused",
        "LastModifiedDate": change.event.values["LastModifiedDate"],
        "SystemModstamp": change.event.values["SystemModstamp"],
    }


def test_pause_with_a_resume_time(rep, tracker):
    resume_at = timezone.now() + dt.timedelta(days=3)
    with OneEvent(tracker) as change:
        lifecycle.pause(tracker, actor=rep, resume_at=resume_at)
    assert reload(tracker).scheduled_resume_date_time == resume_at
    assert change.changed == {"State", "ScheduledResumeDateTime"}


def test_pause_with_a_resume_time_in_the_past_is_refused(rep, tracker):
    before = snapshot()
    with pytest.raises(InvalidValue, match="future"):
        lifecycle.pause(tracker, actor=rep, resume_at=timezone.now() - dt.timedelta(minutes=1))
    assert snapshot() == before


def test_pause_of_a_paused_tracker_is_refused(rep, tracker):
    lifecycle.pause(tracker, actor=rep)
    before = snapshot()
    with pytest.raises(InvalidTransition, match="State Paused; it must be Running"):
        lifecycle.pause(tracker, actor=rep)
    assert snapshot() == before


def test_resume(rep, tracker):
    lifecycle.pause(tracker, actor=rep, resume_at=timezone.now() + dt.timedelta(days=1))
    with OneEvent(tracker) as change:
        lifecycle.resume(tracker, actor=rep)
    stored = reload(tracker)
    assert stored.state == "Running"
    assert stored.scheduled_resume_date_time is None
    assert step_of(stored).state == "Active"
    assert change.changed == {"State", "ScheduledResumeDateTime"}


def test_resume_of_a_running_tracker_is_refused(rep, tracker):
    before = snapshot()
    with pytest.raises(InvalidTransition, match="must be Paused"):
        lifecycle.resume(tracker, actor=rep)
    assert snapshot() == before


def test_the_scheduler_resumes_a_paused_tracker_when_its_time_comes(rep, tracker):
    resume_at = timezone.now() + dt.timedelta(hours=2)
    lifecycle.pause(tracker, actor=rep, resume_at=resume_at)
    assert lifecycle.resume_due(now=resume_at - dt.timedelta(minutes=1)) == 0
    assert reload(tracker).state == "Paused"
    with OneEvent(tracker) as change:
        assert lifecycle.resume_due(now=resume_at + dt.timedelta(seconds=1)) == 1
    assert reload(tracker).state == "Running"
    assert change.event.commit_user is None
    assert change.event.change_origin == "scheduler"
    assert lifecycle.resume_due(now=resume_at + dt.timedelta(days=1)) == 0


# --------------------------------------------------------------------------- steps


def test_complete_step_moves_to_the_next_step(rep, tracker):
    first = step_of(tracker)
    with OneEvent(tracker) as change:
        lifecycle.complete_step(tracker, actor=rep)
    stored = reload(tracker)
    first.refresh_from_db()
    assert stored.state == "Running"
    assert first.state == "Completed"
    assert first.completion_reason == "ManuallyCompleted"
    assert first.completed_by == rep and first.completion_date is not None
    assert stored.last_completed_step_id == first.pk
    assert step_of(stored).action_cadence_step.step_name == "2_SendAnEmail"
    assert step_of(stored).state == "Active"
    assert change.changed == {"CurrentStepId", "LastCompletedStepId"}


def test_skip_step_records_manually_skipped(rep, tracker):
    first = step_of(tracker)
    lifecycle.complete_step(tracker, actor=rep, skip=True)
    first.refresh_from_db()
    assert first.completion_reason == "ManuallySkipped"
    assert reload(tracker).last_completed_step_id == first.pk


def test_completing_the_last_step_completes_the_tracker(rep, tracker):
    lifecycle.complete_step(tracker, actor=rep)
    last = step_of(tracker)
    with OneEvent(tracker) as change:
        lifecycle.complete_step(tracker, actor=rep)
    stored = reload(tracker)
    assert stored.state == "Complete"
    assert stored.completion_reason == "NoMoreSteps"
    assert stored.is_tracker_active is False
    assert stored.current_step is None
    assert stored.last_completed_step_id == last.pk
    assert change.changed == {
        "State",
        "CompletionReason",
        "IsTrackerActive",
        "CurrentStepId",
        "LastCompletedStepId",
    }
    assert change.event.values["IsTrackerActive"] is False
    before = snapshot()
    with pytest.raises(InvalidTransition, match="already Complete"):
        lifecycle.complete_step(tracker, actor=rep)
    assert snapshot() == before


def test_a_wait_step_schedules_the_resume_and_the_scheduler_advances_it(rep):
    cadence = make_cadence(StepType.MAKE_A_CALL, StepType.WAIT, StepType.SEND_AN_EMAIL)
    tracker = running_tracker(owner=rep, cadence=cadence)
    started = timezone.now()
    lifecycle.complete_step(tracker, actor=rep)
    stored = reload(tracker)
    wait = step_of(stored)
    assert wait.step_type == "Wait" and wait.state == "Scheduled"
    resume_at = stored.scheduled_resume_date_time
    assert resume_at is not None
    assert abs((resume_at - started).total_seconds() - 86400) < 60
    assert wait.due_date_time == resume_at

    assert lifecycle.resume_due(now=resume_at - dt.timedelta(hours=1)) == 0
    assert reload(tracker).current_step_id == wait.pk
    with OneEvent(tracker) as change:
        assert lifecycle.resume_due(now=resume_at + dt.timedelta(seconds=1)) == 1
    stored = reload(tracker)
    wait.refresh_from_db()
    assert wait.state == "Completed" and wait.completion_reason == "AutomaticallyCompleted"
    assert stored.scheduled_resume_date_time is None
    assert step_of(stored).step_type == "SendAnEmail"
    assert stored.last_completed_step_id == wait.pk
    assert change.changed == {"CurrentStepId", "LastCompletedStepId", "ScheduledResumeDateTime"}


def test_a_wait_step_that_ends_while_paused_is_advanced_after_resume(rep):
    """Paused across the end of a wait: once resumed, the scheduler must still move on
    (it used to leave the Wait step Active with nothing scheduled, stuck for ever)."""
    cadence = make_cadence(StepType.MAKE_A_CALL, StepType.WAIT, StepType.SEND_AN_EMAIL)
    tracker = running_tracker(owner=rep, cadence=cadence)
    lifecycle.complete_step(tracker, actor=rep)
    wait = step_of(tracker)
    lifecycle.pause(tracker, actor=rep)
    ActionCadenceStepTracker.objects.filter(pk=wait.pk).update(
        due_date_time=timezone.now() - dt.timedelta(minutes=5)
    )
    lifecycle.resume(tracker, actor=rep)
    assert lifecycle.resume_due() == 1
    assert step_of(tracker).step_type == "SendAnEmail"


def test_a_branch_step_takes_the_chosen_branch(rep):
    cadence = make_cadence(StepType.BRANCH)
    StepFactory(
        action_cadence=cadence, step_name="a_call", type="MakeACall", parent_step_name="1_Branch"
    )
    StepFactory(
        action_cadence=cadence,
        step_name="b_email",
        type="SendAnEmail",
        parent_step_name="1_Branch",
        sort_order=1,
    )
    chosen = running_tracker(owner=rep, cadence=cadence)
    default = running_tracker(owner=rep, cadence=cadence)
    assert step_of(chosen).step_type == "Branch"

    before = snapshot()
    with pytest.raises(InvalidValue, match=r"no branch 'c_wait'.*a_call, b_email"):
        lifecycle.complete_step(chosen, actor=rep, branch="c_wait")
    assert snapshot() == before

    lifecycle.complete_step(chosen, actor=rep, branch="b_email")
    assert step_of(chosen).action_cadence_step.step_name == "b_email"
    lifecycle.complete_step(default, actor=rep)
    assert step_of(default).action_cadence_step.step_name == "a_call"


def test_advancing_a_paused_tracker_is_refused(rep, tracker):
    lifecycle.pause(tracker, actor=rep)
    before = snapshot()
    with pytest.raises(InvalidTransition, match="must be Running"):
        lifecycle.complete_step(tracker, actor=rep)
    assert snapshot() == before


# --------------------------------------------------------------------------- remove


@pytest.mark.parametrize("disposition", [None, *CompletionDisposition.values])
def test_remove_with_each_disposition(rep, tracker, disposition):
    step = step_of(tracker)
    with OneEvent(tracker) as change:
        lifecycle.remove_target(tracker, actor=rep, disposition=disposition)
    stored = reload(tracker)
    step.refresh_from_db()
    assert stored.state == "Complete"
    assert stored.completion_reason == "ManuallyRemoved"
    assert stored.completion_disposition == disposition
    assert stored.is_tracker_active is False
    assert stored.current_step is None
    assert step.state == "Cancelled"
    expected = {"State", "CompletionReason", "IsTrackerActive", "CurrentStepId"}
    if disposition:
        expected.add("CompletionDisposition")
    assert change.changed == expected
    assert change.event.values.get("CompletionDisposition") == disposition


def test_remove_of_a_paused_or_broken_tracker(rep, cadence):
    paused = running_tracker(owner=rep, cadence=cadence)
    lifecycle.pause(paused, actor=rep)
    broken = running_tracker(owner=rep, cadence=cadence)
    lifecycle.mark_error(broken, "bad email address")
    for tracker in (paused, broken):
        lifecycle.remove_target(tracker, actor=rep, disposition="Bad Data")
        stored = reload(tracker)
        assert (stored.state, stored.completion_reason) == ("Complete", "ManuallyRemoved")
        assert stored.error_message is None
    assert not ActionCadenceStepTracker.objects.filter(
        action_cadence_tracker__in=[paused, broken], state__in=["Active", "Paused"]
    ).exists()


def test_remove_with_an_invalid_disposition_is_refused(rep, tracker):
    before = snapshot()
    with pytest.raises(InvalidValue, match="Invalid CompletionDisposition 'Meh'") as refused:
        lifecycle.remove_target(tracker, actor=rep, disposition="Meh")
    assert refused.value.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert snapshot() == before


def test_remove_of_a_complete_tracker_is_refused_with_a_clear_message(rep, tracker):
    lifecycle.remove_target(tracker, actor=rep, disposition="Success")
    before = snapshot()
    with pytest.raises(InvalidTransition, match=r"already Complete \(ManuallyRemoved\)") as refused:
        lifecycle.remove_target(tracker, actor=rep, disposition="No Response")
    assert tracker.sf_id in str(refused.value)
    assert snapshot() == before
    assert reload(tracker).completion_disposition == "Success"


def test_remove_of_a_processing_tracker_is_refused(rep, tracker):
    lifecycle.start_bulk("pause", [tracker.pk], actor=rep)
    assert reload(tracker).state == "Processing"
    before = snapshot()
    with pytest.raises(InvalidTransition, match="Processing a bulk change"):
        lifecycle.remove_target(tracker, actor=rep)
    assert snapshot() == before


def test_remove_of_a_missing_tracker_is_not_found(rep):
    with pytest.raises(NotFound):
        lifecycle.remove_target(987654321, actor=rep)


# --------------------------------------------------------------------------- automatic exits


def test_an_exit_event_with_a_matching_global_rule_completes_the_tracker(rep, tracker, cadence):
    rule = RuleFactory(action_cadence=cadence, rule_type="RootStep", global_event_type="EmailReply")
    step = step_of(tracker)
    with OneEvent(tracker) as change:
        exited = lifecycle.exit_event(tracker.target_lead, "EmailReply")
    assert exited.pk == tracker.pk
    stored = reload(tracker)
    step.refresh_from_db()
    assert stored.state == "Complete"
    assert stored.completion_reason == "AutomaticallyExited"
    assert stored.exit_global_rule == rule
    assert step.state == "Cancelled" and step.completion_reason == "AutomaticallyExited"
    assert change.changed == {
        "State",
        "CompletionReason",
        "ExitGlobalRuleId",
        "IsTrackerActive",
        "CurrentStepId",
    }
    assert change.event.values["ExitGlobalRuleId"] == rule.sf_id


def test_a_paused_tracker_exits_too(rep, tracker, cadence):
    RuleFactory(action_cadence=cadence, global_event_type="CallUnqualified")
    lifecycle.pause(tracker, actor=rep)
    lifecycle.exit_event(tracker.target_lead, "CallUnqualified")
    assert reload(tracker).completion_reason == "AutomaticallyExited"


def test_an_exit_event_without_a_matching_global_rule_changes_nothing(rep, tracker, cadence):
    RuleFactory(action_cadence=cadence, global_event_type="EmailReply")
    # A rule of another cadence, and a branch rule of this one, are not global exits.
    RuleFactory(global_event_type="EmailHardBounce")
    RuleFactory(action_cadence=cadence, rule_type="BranchStep", global_event_type="EmailHardBounce")
    before = snapshot()
    assert lifecycle.exit_event(tracker.target_lead, "EmailHardBounce") is None
    assert lifecycle.exit_event(LeadFactory(), "EmailReply") is None  # no tracker at all
    assert snapshot() == before


def test_an_unknown_exit_event_type_is_refused(tracker):
    before = snapshot()
    with pytest.raises(InvalidValue, match="Invalid GlobalEventType"):
        lifecycle.exit_event(tracker.target_lead, "EmailOpened")
    assert snapshot() == before


def test_converting_a_lead_completes_its_tracker(rep, tracker, cadence):
    lead = tracker.target_lead
    with OneEvent(tracker) as change:
        lifecycle.lead_converted(lead)
    stored = reload(tracker)
    assert stored.state == "Complete" and stored.completion_reason == "LeadConverted"
    assert "CompletionReason" in change.changed
    lead.refresh_from_db()
    assert lead.is_converted is True
    with pytest.raises(InvalidTransition, match="converted"):
        lifecycle.assign_target(lead, cadence, actor=rep)


# --------------------------------------------------------------------------- daisy chain


def chained_cadences(*, chained_state: str = "Active"):
    chained = make_cadence(StepType.MAKE_A_CALL, StepType.SEND_AN_EMAIL, state=chained_state)
    first = make_cadence(StepType.MAKE_A_CALL, StepType.DAISY_CHAIN, chained_cadence=chained)
    return first, chained


def test_a_daisy_chain_step_moves_the_target_to_the_chained_cadence(rep):
    first, chained = chained_cadences()
    opportunity = OpportunityFactory()
    tracker = running_tracker(
        owner=rep, cadence=first, related_to=opportunity, attribution_type="Activation"
    )
    last_replay_id = Events.order_by("-replay_id").first().replay_id
    lifecycle.complete_step(tracker, actor=rep)

    old = reload(tracker)
    assert old.state == "Complete" and old.completion_reason == "DaisyChained"
    new = ActionCadenceTracker.objects.get(target_lead=tracker.target_lead, is_tracker_active=True)
    assert new.action_cadence == chained
    assert new.state == "Running"
    assert new.daisy_chain_iteration == 2
    assert new.owner_user == rep
    assert new.related_opportunity == opportunity
    assert new.related_to_attribution_type == "Activation"
    assert step_of(new).action_cadence_step.step_name == "1_MakeACall"
    # One transaction: the old tracker's UPDATE, the new one's CREATE and UPDATE.
    written = list(Events.filter(replay_id__gt=last_replay_id))
    assert [(e.tracker_id, e.change_type) for e in written] == [
        (old.pk, "UPDATE"),
        (new.pk, "CREATE"),
        (new.pk, "UPDATE"),
    ]
    assert len({e.transaction_key for e in written}) == 1
    assert [e.sequence_number for e in written] == [1, 2, 3]


def test_the_ninth_link_still_chains_to_a_tenth(rep):
    first, _chained = chained_cadences()
    tracker = running_tracker(owner=rep, cadence=first)
    ActionCadenceTracker.objects.filter(pk=tracker.pk).update(daisy_chain_iteration=9)
    lifecycle.complete_step(tracker, actor=rep)
    new = ActionCadenceTracker.objects.get(target_lead=tracker.target_lead, state="Running")
    assert new.daisy_chain_iteration == 10


def test_a_daisy_chain_never_goes_past_the_tenth_cadence(rep):
    first, chained = chained_cadences()
    tracker = running_tracker(owner=rep, cadence=first)
    ActionCadenceTracker.objects.filter(pk=tracker.pk).update(daisy_chain_iteration=10)
    lifecycle.complete_step(tracker, actor=rep)
    stored = reload(tracker)
    assert stored.state == "Complete" and stored.completion_reason == "NoMoreSteps"
    assert not ActionCadenceTracker.objects.filter(action_cadence=chained).exists()


def test_a_real_chain_of_ten_cadences_stops_at_the_tenth(rep):
    """Built the way an admin would: cadence 10 chains back to cadence 1."""
    cadences = [make_cadence(StepType.MAKE_A_CALL, StepType.DAISY_CHAIN) for _ in range(10)]
    for index, cadence in enumerate(cadences):
        ActionCadenceStep.objects.filter(action_cadence=cadence, type="DaisyChain").update(
            chained_cadence=cadences[(index + 1) % 10]
        )
    lead = LeadFactory()
    lifecycle.assign_target(lead, cadences[0], actor=rep)
    for _ in range(20):
        current = ActionCadenceTracker.objects.active().filter(target_lead=lead).first()
        if current is None:
            break
        lifecycle.complete_step(current, actor=rep)
    trackers = list(ActionCadenceTracker.objects.filter(target_lead=lead).order_by("pk"))
    assert [t.daisy_chain_iteration for t in trackers] == list(range(1, 11))
    assert [t.completion_reason for t in trackers] == ["DaisyChained"] * 9 + ["NoMoreSteps"]


def test_a_chained_cadence_that_is_not_active_puts_the_tracker_in_error(rep):
    first, chained = chained_cadences(chained_state="Inactive")
    tracker = running_tracker(owner=rep, cadence=first)
    with OneEvent(tracker) as change:
        lifecycle.complete_step(tracker, actor=rep)
    stored = reload(tracker)
    assert stored.state == "Error"
    assert chained.name in stored.error_message and "not Active" in stored.error_message
    assert stored.is_tracker_active is False
    assert not ActionCadenceTracker.objects.filter(action_cadence=chained).exists()
    assert {"State", "ErrorMessage", "IsTrackerActive"} <= change.changed

    # Once the chained cadence is activated, retrying follows the chain.
    ActionCadence.objects.filter(pk=chained.pk).update(state="Active")
    lifecycle.retry(tracker, actor=rep)
    assert reload(tracker).completion_reason == "DaisyChained"
    assert ActionCadenceTracker.objects.get(action_cadence=chained).state == "Running"


# --------------------------------------------------------------------------- error / retry


def test_mark_error_and_retry(rep, tracker):
    step = step_of(tracker)
    with OneEvent(tracker) as change:
        lifecycle.mark_error(tracker, "  The mailbox refused the send.  ")
    stored = reload(tracker)
    assert stored.state == "Error"
    assert stored.error_message == "The mailbox refused the send."
    assert change.changed == {"State", "ErrorMessage", "IsTrackerActive"}

    with OneEvent(tracker) as change:
        lifecycle.retry(tracker, actor=rep)
    stored = reload(tracker)
    assert stored.state == "Running" and stored.error_message is None
    assert stored.current_step_id == step.pk
    assert change.changed == {"State", "ErrorMessage", "IsTrackerActive"}


def test_mark_error_needs_a_message_and_an_active_tracker(rep, tracker):
    before = snapshot()
    with pytest.raises(InvalidValue, match="ErrorMessage"):
        lifecycle.mark_error(tracker, "   ")
    assert snapshot() == before
    lifecycle.remove_target(tracker, actor=rep)
    with pytest.raises(InvalidTransition, match="already Complete"):
        lifecycle.mark_error(tracker, "too late")


def test_a_long_error_message_is_cut_to_255_characters(tracker):
    lifecycle.mark_error(tracker, "x" * 400)
    assert len(reload(tracker).error_message) == 255


def test_retry_is_refused_when_the_target_started_another_cadence(rep, tracker):
    lifecycle.mark_error(tracker, "broken")
    running_tracker(owner=rep, target=tracker.target_lead)
    before = snapshot()
    with pytest.raises(InvalidTransition, match="active in another cadence"):
        lifecycle.retry(tracker, actor=rep)
    assert snapshot() == before


def test_retry_of_a_running_tracker_is_refused(rep, tracker):
    with pytest.raises(InvalidTransition, match="must be Error"):
        lifecycle.retry(tracker, actor=rep)


# --------------------------------------------------------------------------- access


def test_a_user_who_cannot_see_the_tracker_gets_not_found(outsider, tracker):
    before = snapshot()
    for action in (
        lambda: lifecycle.remove_target(tracker, actor=outsider),
        lambda: lifecycle.pause(tracker, actor=outsider),
        lambda: lifecycle.complete_step(tracker, actor=outsider),
        lambda: lifecycle.delete_tracker(tracker, actor=outsider),
    ):
        with pytest.raises(NotFound) as refused:
            action()
        assert refused.value.code == "NOT_FOUND"
        # A 404 must not confirm the record exists.
        assert tracker.sf_id not in str(refused.value)
    assert snapshot() == before


def test_read_access_is_not_enough_to_remove(rep, teammate, tracker):
    services.share_tracker(tracker, teammate, "Read", actor=rep)
    before = snapshot()
    with pytest.raises(InsufficientAccess, match="Edit access"):
        lifecycle.remove_target(tracker, actor=teammate)
    assert snapshot() == before


def test_read_access_from_the_org_wide_default_is_not_enough_to_remove(teammate, tracker):
    set_org_default("Read")
    before = snapshot()
    with pytest.raises(InsufficientAccess, match="Edit access"):
        lifecycle.remove_target(tracker, actor=teammate)
    assert snapshot() == before


def test_a_superuser_can_remove_any_tracker(admin_user, tracker):
    with OneEvent(tracker) as change:
        lifecycle.remove_target(tracker, actor=admin_user, disposition="Duplicate")
    assert reload(tracker).completion_disposition == "Duplicate"
    assert reload(tracker).last_modified_by == admin_user
    assert change.event.commit_user_sf_id == admin_user.sf_id


def test_a_queue_member_can_work_but_not_delete_a_queue_tracker(rep, teammate, cadence):
    queue = QueueFactory()
    GroupMemberFactory(group=queue, member_user=teammate)
    tracker = lifecycle.assign_target(LeadFactory(), cadence, actor=rep, owner=queue)
    lifecycle.pause(tracker, actor=teammate)
    lifecycle.resume(tracker, actor=teammate)
    with pytest.raises(InsufficientAccess):
        lifecycle.delete_tracker(tracker, actor=teammate)
    lifecycle.remove_target(tracker, actor=teammate)
    assert reload(tracker).state == "Complete"


# --------------------------------------------------------------------------- change events


def test_one_event_per_change_and_nothing_else(rep, tracker):
    """A tracker's whole life: each change writes exactly one event, replay ids only grow,
    and IsTrackerActive is reported exactly when it flips."""
    steps = [
        (lambda: lifecycle.pause(tracker, actor=rep), False),
        (lambda: lifecycle.resume(tracker, actor=rep), False),
        (lambda: lifecycle.complete_step(tracker, actor=rep), False),
        (lambda: lifecycle.mark_error(tracker, "oops"), True),
        (lambda: lifecycle.retry(tracker, actor=rep), True),
        (lambda: lifecycle.remove_target(tracker, actor=rep, disposition="Success"), True),
    ]
    fields = registry.for_model(ActionCadenceTracker)
    for action, flips in steps:
        with OneEvent(tracker) as change:
            action()
        assert ("IsTrackerActive" in change.event.changed_fields) is flips
        stored = reload(tracker)
        # The event carries exactly the changed fields, with the record's new values.
        assert set(change.event.values) == set(change.event.changed_fields)
        for name, value in change.event.values.items():
            assert value == fields.field(name).json_value(stored), name
        assert change.event.sequence_number == 1
    replay_ids = list(Events.filter(tracker=tracker).values_list("replay_id", flat=True))
    assert replay_ids == sorted(replay_ids) and len(set(replay_ids)) == len(replay_ids)
    assert len(replay_ids) == 2 + len(steps)  # plus the assign's CREATE and UPDATE
    assert len(set(Events.filter(tracker=tracker).values_list("transaction_key", flat=True))) == 7


# ----------------------------------------------------------------- delete, undelete, purge


def test_delete_is_soft_and_writes_a_delete_event(rep, tracker):
    step = step_of(tracker)
    with OneEvent(tracker, "DELETE") as change:
        lifecycle.delete_tracker(tracker, actor=rep)
    assert not ActionCadenceTracker.objects.filter(pk=tracker.pk).exists()
    stored = ActionCadenceTracker.all_objects.get(pk=tracker.pk)
    assert stored.is_deleted is True
    assert change.event.header()["changedFields"] == []
    step.refresh_from_db()
    assert step.state == "Cancelled"
    # Deleted trackers are invisible to every transition.
    with pytest.raises(NotFound):
        lifecycle.remove_target(tracker, actor=rep)
    with pytest.raises(NotFound):
        lifecycle.delete_tracker(tracker, actor=rep)


def test_a_deleted_tracker_frees_its_target_and_its_slot(rep, tracker, cadence, settings):
    settings.CADENCE_ACTIVE_TRACKER_LIMIT = 1
    lifecycle.delete_tracker(tracker, actor=rep)
    again = lifecycle.assign_target(tracker.target_lead, cadence, actor=rep)
    assert reload(again).state == "Running"


def test_delete_of_a_processing_tracker_is_refused(rep, tracker):
    lifecycle.start_bulk("remove", [tracker.pk], actor=rep)
    before = snapshot()
    with pytest.raises(InvalidTransition, match="Processing"):
        lifecycle.delete_tracker(tracker, actor=rep)
    assert snapshot() == before


def test_undelete_restores_the_tracker_and_it_carries_on(rep, tracker):
    lifecycle.delete_tracker(tracker, actor=rep)
    with OneEvent(tracker, "UNDELETE"):
        lifecycle.undelete_tracker(tracker, actor=rep)
    stored = ActionCadenceTracker.objects.get(pk=tracker.pk)
    assert stored.state == "Running"
    # The restored tracker is as it was: on its step, and able to move on.
    assert step_of(stored).state == "Active"
    lifecycle.complete_step(stored, actor=rep)
    assert step_of(stored).action_cadence_step.step_name == "2_SendAnEmail"


def test_undelete_of_a_paused_tracker_keeps_its_step_paused(rep, tracker):
    lifecycle.pause(tracker, actor=rep)
    lifecycle.delete_tracker(tracker, actor=rep)
    lifecycle.undelete_tracker(tracker, actor=rep)
    assert step_of(tracker).state == "Paused"
    lifecycle.resume(tracker, actor=rep)
    assert step_of(tracker).state == "Active"


def test_undelete_is_refused_when_the_target_is_now_active_elsewhere(rep, tracker):
    lifecycle.delete_tracker(tracker, actor=rep)
    running_tracker(owner=rep, target=tracker.target_lead)
    before = snapshot()
    with pytest.raises(InvalidTransition, match="active in another cadence"):
        lifecycle.undelete_tracker(tracker, actor=rep)
    assert snapshot() == before
    assert ActionCadenceTracker.all_objects.get(pk=tracker.pk).is_deleted is True


def test_undelete_of_an_active_tracker_is_refused_at_the_org_limit(rep, tracker, settings):
    settings.CADENCE_ACTIVE_TRACKER_LIMIT = 1
    lifecycle.delete_tracker(tracker, actor=rep)
    running_tracker(owner=rep)
    before = snapshot()
    with pytest.raises(OrgLimitReached):
        lifecycle.undelete_tracker(tracker, actor=rep)
    assert snapshot() == before


def test_undelete_of_a_complete_tracker_ignores_the_targets_new_tracker(rep, tracker):
    lifecycle.remove_target(tracker, actor=rep)
    lifecycle.delete_tracker(tracker, actor=rep)
    running_tracker(owner=rep, target=tracker.target_lead)
    lifecycle.undelete_tracker(tracker, actor=rep)
    assert ActionCadenceTracker.objects.filter(pk=tracker.pk).exists()


def test_undelete_needs_all_access_and_a_deleted_tracker(rep, outsider, tracker):
    with pytest.raises(InvalidTransition, match="not in the recycle bin"):
        lifecycle.undelete_tracker(tracker, actor=rep)
    lifecycle.delete_tracker(tracker, actor=rep)
    with pytest.raises(NotFound):
        lifecycle.undelete_tracker(tracker, actor=outsider)


def test_purge_removes_only_trackers_deleted_longer_ago_than_the_window(rep, cadence, settings):
    settings.CADENCE_RECYCLE_BIN_DAYS = 15
    now = timezone.now()
    old = running_tracker(owner=rep, cadence=cadence)
    recent = running_tracker(owner=rep, cadence=cadence)
    live = running_tracker(owner=rep, cadence=cadence)
    for tracker in (old, recent):
        lifecycle.delete_tracker(tracker, actor=rep)
    ActionCadenceTracker.all_objects.filter(pk=old.pk).update(
        system_modstamp=now - dt.timedelta(days=15, minutes=1)
    )
    ActionCadenceTracker.all_objects.filter(pk=recent.pk).update(
        system_modstamp=now - dt.timedelta(days=14, hours=23)
    )
    ActionCadenceTracker.all_objects.filter(pk=live.pk).update(
        system_modstamp=now - dt.timedelta(days=400)
    )

    assert lifecycle.purge_deleted(now=now) == 1
    remaining = set(ActionCadenceTracker.all_objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, live.pk}
    assert not ActionCadenceStepTracker.objects.filter(action_cadence_tracker_id=old.pk).exists()
    assert lifecycle.purge_deleted(now=now) == 0
    # A shorter window purges the recent one too.
    settings.CADENCE_RECYCLE_BIN_DAYS = 7
    assert lifecycle.purge_deleted(now=now) == 1
    assert set(ActionCadenceTracker.all_objects.values_list("pk", flat=True)) == {live.pk}


def test_lifecycle_errors_carry_a_salesforce_error_code():
    assert issubclass(OrgLimitReached, LifecycleError)
    codes = {
        InvalidTransition: "INVALID_OPERATION",
        InvalidValue: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        OrgLimitReached: "LIMIT_EXCEEDED",
        NotFound: "NOT_FOUND",
        InsufficientAccess: "INSUFFICIENT_ACCESS_OR_READONLY",
    }
    for error, code in codes.items():
        assert error("message").code == code
    assert InvalidValue("message", code="INVALID_FIELD").code == "INVALID_FIELD"


def test_a_system_change_has_no_user(tracker):
    """A system change (no actor) stamps no LastModifiedById and no commitUser."""
    with OneEvent(tracker) as change:
        lifecycle.mark_error(tracker, "system failure")
    assert reload(tracker).last_modified_by is None
    assert change.event.commit_user_sf_id == ""
    assert "LastModifiedById" in change.event.changed_fields
