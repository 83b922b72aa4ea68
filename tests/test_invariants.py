"""The database itself refuses a tracker that breaks an invariant.

Every write here bypasses the lifecycle on purpose (``QuerySet.update`` or
``bulk_create``): the constraints are the last line of defence when some code
forgets the rules. Each refusal is matched to the constraint that should refuse it,
so a row rejected for an unrelated reason does not count.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F

from tests.factories import (
    ContactFactory,
    InvoiceFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    RuleFactory,
    running_tracker,
)
from trackers.models import (
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
)

pytestmark = pytest.mark.django_db

Trackers = ActionCadenceTracker.all_objects

COMPLETE = {"state": "Complete", "completion_reason": "ManuallyRemoved"}


@contextmanager
def refused_by(constraint: str, *columns: str, model=ActionCadenceTracker):
    """The block must fail with an IntegrityError raised by ``constraint``.

    PostgreSQL names the constraint for every violation; SQLite names check
    constraints but reports a unique index by its columns instead.
    """
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        yield
    message = str(caught.value)
    table = model._meta.db_table
    by_columns = ", ".join(f"{table}.{column}" for column in columns)
    names = [constraint, by_columns] if columns else [constraint]
    assert any(name in message for name in names), f"{constraint} not named in: {message}"


@pytest.fixture
def tracker(rep):
    return running_tracker(owner=rep)


def update(tracker: ActionCadenceTracker, **values) -> int:
    return Trackers.filter(pk=tracker.pk).update(**values)


def copy_of(tracker: ActionCadenceTracker, **overrides) -> ActionCadenceTracker:
    """A new unsaved tracker like ``tracker`` (same cadence/owner), for bulk_create."""
    values = {
        "action_cadence_id": tracker.action_cadence_id,
        "owner_user_id": tracker.owner_user_id,
        "state": "Running",
        "daisy_chain_iteration": 1,
    }
    values.update(overrides)
    return ActionCadenceTracker(**values)


# --------------------------------------------------------------------------- picklists


def test_a_state_outside_the_picklist_is_refused(tracker):
    with refused_by("tracker_state_valid"):
        update(tracker, state="Stopped")
    with refused_by("tracker_state_valid"):
        update(tracker, state="running")  # restricted picklists are case-sensitive


def test_a_completion_reason_outside_the_picklist_is_refused(tracker):
    with refused_by("tracker_completion_reason_valid"):
        update(tracker, state="Complete", completion_reason="GaveUp")


def test_an_attribution_type_outside_the_picklist_is_refused(tracker):
    opportunity = OpportunityFactory()
    with refused_by("tracker_attribution_type_valid"):
        update(tracker, related_opportunity=opportunity, related_to_attribution_type="Bribery")


def test_every_value_of_each_restricted_picklist_is_accepted(tracker):
    """The control for the refusals above: the seed's values all pass the constraints."""
    for reason in [
        "AutomaticallyExitedDeletedStep",
        "AutomaticallyExitedInvalidParentStep",
        "DaisyChained",
        "LeadConverted",
        "ManuallyRemoved",
        "ManuallyRemovedNoAccess",
        "NoMoreSteps",
    ]:
        assert update(tracker, state="Complete", completion_reason=reason) == 1
    opportunity = OpportunityFactory()
    for kind in ["Activation", "Collected", "Collection Advancement", "Maturation"]:
        assert update(tracker, related_opportunity=opportunity, related_to_attribution_type=kind)


# --------------------------------------------------------------------------- completion


def test_complete_without_a_completion_reason_is_refused(tracker):
    with refused_by("tracker_complete_iff_completion_reason"):
        update(tracker, state="Complete")


@pytest.mark.parametrize("state", ["Running", "Paused", "Error", "Initializing"])
def test_a_completion_reason_on_a_tracker_that_is_not_complete_is_refused(tracker, state):
    with refused_by("tracker_complete_iff_completion_reason"):
        update(tracker, state=state, completion_reason="ManuallyRemoved")


@pytest.mark.parametrize("state", ["Running", "Paused", "Error"])
def test_a_disposition_on_a_tracker_that_is_not_complete_is_refused(tracker, state):
    with refused_by("tracker_disposition_only_when_complete"):
        update(tracker, state=state, completion_disposition="Success")


def test_a_disposition_on_a_complete_tracker_is_accepted_even_if_unknown(tracker):
    """CompletionDisposition is not restricted: imports keep values people cannot pick."""
    assert update(tracker, **COMPLETE, completion_disposition="Imported: Moved On") == 1


def test_exit_global_rule_with_another_completion_reason_is_refused(tracker):
    rule = RuleFactory(action_cadence=tracker.action_cadence, global_event_type="EmailReply")
    with refused_by("tracker_exit_rule_iff_automatically_exited"):
        update(tracker, **COMPLETE, exit_global_rule=rule)


def test_exit_global_rule_on_a_tracker_that_is_not_complete_is_refused(tracker):
    rule = RuleFactory(action_cadence=tracker.action_cadence, global_event_type="EmailReply")
    with refused_by("tracker_exit_rule_iff_automatically_exited"):
        update(tracker, exit_global_rule=rule)  # still Running, no CompletionReason


def test_automatically_exited_without_an_exit_global_rule_is_refused(tracker):
    with refused_by("tracker_exit_rule_iff_automatically_exited"):
        update(tracker, state="Complete", completion_reason="AutomaticallyExited")


def test_automatically_exited_with_its_rule_is_accepted(tracker):
    rule = RuleFactory(action_cadence=tracker.action_cadence, global_event_type="EmailReply")
    assert update(
        tracker, state="Complete", completion_reason="AutomaticallyExited", exit_global_rule=rule
    )


# --------------------------------------------------------------------------- daisy chain


@pytest.mark.parametrize("iteration", [0, 11, 100])
def test_daisy_chain_iteration_outside_1_to_10_is_refused(tracker, iteration):
    with refused_by("tracker_daisy_chain_iteration_1_to_10"):
        update(tracker, daisy_chain_iteration=iteration)


def test_daisy_chain_iteration_1_to_10_is_accepted(tracker):
    for iteration in (1, 10, None):
        assert update(tracker, daisy_chain_iteration=iteration) == 1


# ------------------------------------------------------------------ owner, target, related to


def test_two_owners_are_refused(tracker):
    with refused_by("tracker_exactly_one_owner"):
        update(tracker, owner_queue=QueueFactory())


def test_no_owner_is_refused(tracker):
    with refused_by("tracker_exactly_one_owner"):
        update(tracker, owner_user=None)
    with refused_by("tracker_exactly_one_owner"):
        Trackers.bulk_create([copy_of(tracker, owner_user_id=None, target_lead=LeadFactory())])


def test_a_queue_alone_may_own_a_tracker(tracker):
    assert update(tracker, owner_user=None, owner_queue=QueueFactory()) == 1


def test_two_targets_are_refused(tracker):
    with refused_by("tracker_at_most_one_target"):
        update(tracker, target_contact=ContactFactory())


def test_two_related_to_records_are_refused(tracker):
    with refused_by("tracker_at_most_one_related_to"):
        update(tracker, related_opportunity=OpportunityFactory(), related_invoice=InvoiceFactory())


def test_an_attribution_type_without_related_to_is_refused(tracker):
    with refused_by("tracker_attribution_needs_related_to"):
        update(tracker, related_to_attribution_type="Activation")


def test_an_attribution_type_with_an_invoice_is_accepted(tracker):
    assert update(
        tracker, related_invoice=InvoiceFactory(), related_to_attribution_type="Collected"
    )


# --------------------------------------------------------------------------- Processing


def test_processing_without_a_prior_state_is_refused(tracker):
    with refused_by("tracker_prior_state_iff_processing"):
        update(tracker, state="Processing")


def test_a_prior_state_outside_processing_is_refused(tracker):
    with refused_by("tracker_prior_state_iff_processing"):
        update(tracker, prior_state="Running")


# --------------------------------------------------------------------------- one active per target


def test_a_second_active_tracker_for_one_lead_is_refused(tracker):
    lead = tracker.target_lead
    with refused_by("tracker_one_active_per_lead", "target_lead_id"):
        Trackers.bulk_create([copy_of(tracker, target_lead=lead, state="Paused")])


def test_a_second_active_tracker_for_one_contact_is_refused(rep):
    contact = ContactFactory()
    first = running_tracker(owner=rep, target=contact)
    with refused_by("tracker_one_active_per_contact", "target_contact_id"):
        Trackers.bulk_create([copy_of(first, target_contact=contact, state="Running")])
    # Reactivating an old tracker of the same contact is refused the same way.
    old = Trackers.bulk_create([copy_of(first, target_contact=contact, **COMPLETE)])[0]
    with refused_by("tracker_one_active_per_contact", "target_contact_id"):
        update(old, state="Running", completion_reason=None)


def test_finished_and_deleted_trackers_do_not_count_as_the_targets_active_one(tracker):
    lead = tracker.target_lead
    Trackers.bulk_create(
        [
            copy_of(tracker, target_lead=lead, **COMPLETE),
            copy_of(tracker, target_lead=lead, state="Error", error_message="broken"),
            copy_of(tracker, target_lead=lead, state="Running", is_deleted=True),
        ]
    )
    assert Trackers.filter(target_lead=lead).count() == 4
    assert ActionCadenceTracker.objects.active().filter(target_lead=lead).count() == 1


# --------------------------------------------------------------------------- IsTrackerActive


def test_is_tracker_active_follows_state_after_a_raw_update(tracker):
    expected = {
        "Running": True,
        "Paused": True,
        "Initializing": True,
        "Error": False,
        "Complete": False,
    }
    for state, active in expected.items():
        reason = "ManuallyRemoved" if state == "Complete" else None
        update(tracker, state=state, completion_reason=reason)
        assert Trackers.values_list("is_tracker_active", flat=True).get(pk=tracker.pk) is active
    update(tracker, state="Processing", prior_state="Running", completion_reason=None)
    assert Trackers.get(pk=tracker.pk).is_tracker_active is True
    # It is a real column: filters on it use the database's value.
    assert Trackers.filter(pk=tracker.pk, is_tracker_active=True).exists()


def test_is_tracker_active_cannot_be_written_by_the_orm(tracker):
    """Django leaves a GeneratedField out of an UPDATE: writing it alone changes nothing,
    and written next to State it is the State that decides."""
    assert update(tracker, is_tracker_active=False) == 0
    assert Trackers.get(pk=tracker.pk).is_tracker_active is True
    assert update(tracker, state="Error", is_tracker_active=True) == 1
    assert Trackers.get(pk=tracker.pk).is_tracker_active is False


def test_is_tracker_active_cannot_be_written_in_sql(tracker):
    """Not even raw SQL can make IsTrackerActive disagree with State."""
    table = connection.ops.quote_name(ActionCadenceTracker._meta.db_table)
    false = "FALSE" if connection.vendor == "postgresql" else "0"
    with (
        pytest.raises(DatabaseError) as caught,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE {table} SET is_tracker_active = {false} WHERE id = %s", [tracker.pk]
        )
    assert re.search(r"(?i)generated|can only be updated to DEFAULT", str(caught.value))
    assert Trackers.get(pk=tracker.pk).is_tracker_active is True


def test_a_bulk_created_tracker_gets_is_tracker_active_from_its_state(tracker):
    made = Trackers.bulk_create(
        [
            copy_of(tracker, target_lead=LeadFactory(), state="Paused"),
            copy_of(tracker, target_lead=LeadFactory(), **COMPLETE),
        ]
    )
    by_state = dict(
        Trackers.filter(pk__in=[t.pk for t in made]).values_list("state", "is_tracker_active")
    )
    assert by_state == {"Paused": True, "Complete": False}


# --------------------------------------------------------------------------- step trackers


def test_a_second_open_step_tracker_for_one_tracker_is_refused(tracker):
    current = ActionCadenceStepTracker.objects.get(pk=tracker.current_step_id)
    assert current.state == "Active"
    duplicate = ActionCadenceStepTracker(
        action_cadence_tracker=tracker,
        action_cadence_step=current.action_cadence_step,
        action_cadence=current.action_cadence,
        step_type=current.step_type,
        state="Scheduled",
    )
    with refused_by(
        "steptracker_one_open_per_tracker",
        "action_cadence_tracker_id",
        model=ActionCadenceStepTracker,
    ):
        ActionCadenceStepTracker.objects.bulk_create([duplicate])
    # Closed step trackers do not count: many Completed ones may exist.
    duplicate.pk = None
    duplicate.sf_id = ""
    duplicate.state = "Completed"
    ActionCadenceStepTracker.objects.bulk_create([duplicate])
    # Reopening a closed one while another is open is refused too.
    with refused_by(
        "steptracker_one_open_per_tracker",
        "action_cadence_tracker_id",
        model=ActionCadenceStepTracker,
    ):
        ActionCadenceStepTracker.objects.filter(pk=duplicate.pk).update(state="Paused")


def test_a_step_tracker_state_outside_the_picklist_is_refused(tracker):
    with refused_by("steptracker_state_valid", model=ActionCadenceStepTracker):
        ActionCadenceStepTracker.objects.filter(pk=tracker.current_step_id).update(state="Done")
    with refused_by("steptracker_completion_reason_valid", model=ActionCadenceStepTracker):
        ActionCadenceStepTracker.objects.filter(pk=tracker.current_step_id).update(
            completion_reason="Bored"
        )


# --------------------------------------------------------------------------- change events


def test_change_event_sequence_numbers_are_unique_within_a_transaction(tracker):
    create = ActionCadenceTrackerChangeEvent.objects.filter(tracker=tracker).first()
    with refused_by(
        "changeevent_sequence_unique",
        "transaction_key",
        "sequence_number",
        model=ActionCadenceTrackerChangeEvent,
    ):
        ActionCadenceTrackerChangeEvent.objects.filter(tracker=tracker).update(
            sequence_number=create.sequence_number
        )
    with refused_by("changeevent_type_valid", model=ActionCadenceTrackerChangeEvent):
        ActionCadenceTrackerChangeEvent.objects.filter(pk=create.pk).update(change_type="UPSERT")
    # The control: shifting every sequence number keeps them unique and is accepted.
    ActionCadenceTrackerChangeEvent.objects.filter(tracker=tracker).update(
        sequence_number=F("sequence_number") + 10
    )


# --------------------------------------------------------------------------- coverage


TESTED = {
    "tracker_state_valid",
    "tracker_completion_reason_valid",
    "tracker_attribution_type_valid",
    "tracker_complete_iff_completion_reason",
    "tracker_disposition_only_when_complete",
    "tracker_exit_rule_iff_automatically_exited",
    "tracker_daisy_chain_iteration_1_to_10",
    "tracker_exactly_one_owner",
    "tracker_at_most_one_target",
    "tracker_at_most_one_related_to",
    "tracker_attribution_needs_related_to",
    "tracker_prior_state_iff_processing",
    "tracker_one_active_per_lead",
    "tracker_one_active_per_contact",
}


def test_every_tracker_constraint_has_a_refusal_test_above():
    """A constraint added to the model without a test here fails this test."""
    declared = {constraint.name for constraint in ActionCadenceTracker._meta.constraints}
    assert declared == TESTED


def test_the_constraints_exist_in_the_database_not_just_the_model():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(
            cursor, ActionCadenceTracker._meta.db_table
        )
    in_database = set(constraints)
    if connection.vendor == "sqlite":
        # SQLite's introspection names unique indexes but not table CHECK clauses;
        # the refusal tests above prove those.
        assert {"tracker_one_active_per_lead", "tracker_one_active_per_contact"} <= in_database
    else:
        assert in_database >= TESTED
