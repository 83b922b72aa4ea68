"""The lifecycle service: every tracker state change goes through here.

Views, the admin, the API and background tasks call these functions; none of
them writes a tracker's State themselves. Each transition

- runs in one database transaction, with the tracker row locked;
- refuses an invalid move with a ``LifecycleError`` (a clear message and a
  Salesforce-style error code) and changes nothing;
- stamps LastModifiedDate / LastModifiedById / SystemModstamp;
- writes its change event (``ActionCadenceTrackerChangeEvent``) in the same
  transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, DateTimeField, F, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from cadence_site import registry
from sharing import access, recalc
from sharing.models import Group, Organization
from trackers.bulkload import EVENT_COLUMNS, TableWriter
from trackers.choices import (
    ACTIVE_STATES,
    OPEN_STEP_STATES,
    BulkAction,
    BulkJobStatus,
    CadenceState,
    ChangeType,
    CompletionDisposition,
    CompletionReason,
    GlobalEventType,
    RelatedToAttributionType,
    RuleType,
    StepTrackerCompletionReason,
    StepTrackerState,
    StepType,
    TrackerState,
    values,
)
from trackers.models import (
    ActionCadence,
    ActionCadenceRule,
    ActionCadenceStep,
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
    BulkJob,
    Contact,
    Invoice,
    Lead,
    Opportunity,
)

logger = logging.getLogger(__name__)

MAX_DAISY_CHAIN_ITERATION = 10
# Trackers a bulk job finishes per transaction.
BULK_CHUNK_SIZE = settings.CADENCE_BULK_CHUNK_SIZE

# Where a rep may remove a target from: any active state but Processing (a job owns
# those), and Error (removing a broken tracker is how reps clean up).
REMOVABLE_STATES = (
    TrackerState.RUNNING,
    TrackerState.PAUSED,
    TrackerState.INITIALIZING,
    TrackerState.ERROR,
)
# What each bulk action accepts, and the state it leaves a tracker in.
BULK_SOURCE_STATES = {
    BulkAction.REMOVE: (TrackerState.RUNNING, TrackerState.PAUSED, TrackerState.INITIALIZING),
    BulkAction.PAUSE: (TrackerState.RUNNING,),
    BulkAction.RESUME: (TrackerState.PAUSED,),
}


# --------------------------------------------------------------------------- errors


class LifecycleError(Exception):
    """A refused transition. ``code`` is the Salesforce errorCode the API reports."""

    code = "INVALID_OPERATION"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidTransition(LifecycleError):
    code = "INVALID_OPERATION"


class InvalidValue(LifecycleError):
    code = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


class OrgLimitReached(LifecycleError):
    code = "LIMIT_EXCEEDED"


class ConcurrentChange(LifecycleError):
    code = "UNABLE_TO_LOCK_ROW"


class NotFound(LifecycleError):
    """The tracker does not exist for this user: missing, deleted or not visible."""

    code = "NOT_FOUND"


class InsufficientAccess(LifecycleError):
    code = "INSUFFICIENT_ACCESS_OR_READONLY"


# --------------------------------------------------------------------------- change events

_COLUMN_TO_FIELD: dict[str, str] = {}


def _api_name(column: str) -> str:
    """The API name of a model attribute of ActionCadenceTracker (OwnerId for owner_queue...)."""
    if not _COLUMN_TO_FIELD:
        for spec in registry.for_model(ActionCadenceTracker).fields:
            for attr in [spec.attr, *spec.columns.values()]:
                if attr:
                    _COLUMN_TO_FIELD[attr] = spec.name
    return _COLUMN_TO_FIELD.get(column, "")


def _event_json(name: str, value: Any) -> Any:
    """``value`` as the change event's JSON field ``name`` hands it to the database."""
    field = ActionCadenceTrackerChangeEvent._meta.get_field(name)
    return field.get_db_prep_save(value, connection)


class _Transaction:
    """Collects the change events of one database transaction, as rows ready to insert.

    Every event goes through ``add``, so a bulk job's events and a single transition's
    are written alike; ``flush`` inserts them with one statement.
    """

    def __init__(self, actor: Any, origin: str) -> None:
        self.actor = actor if actor is not None and getattr(actor, "pk", None) else None
        self.origin = origin
        self.key = str(uuid.uuid4())
        self.now = timezone.now()
        self.rows: list[tuple] = []
        self._commit_timestamp = int(self.now.timestamp() * 1000)
        self._created_at = _event_json("created_at", self.now)

    def record(
        self,
        tracker: ActionCadenceTracker,
        change_type: str,
        changed_fields: Iterable[str] = (),
    ) -> None:
        self.add(
            tracker.pk,
            tracker.sf_id,
            change_type,
            *self.event(tracker, change_type, changed_fields),
        )

    @staticmethod
    def event(
        tracker: ActionCadenceTracker, change_type: str, changed_fields: Iterable[str] = ()
    ) -> tuple[Any, Any]:
        """The changed fields and values of ``tracker``'s event, ready for ``add``."""
        sobject = registry.for_model(ActionCadenceTracker)
        if change_type == ChangeType.UPDATE:
            names = sorted(set(changed_fields))
            event_values = {name: sobject.field(name).json_value(tracker) for name in names}
        elif change_type == ChangeType.CREATE:
            names = []
            event_values = sobject.to_dict(tracker)
        else:
            names = []
            event_values = {}
        return _event_json("changed_fields", names), _event_json("values", event_values)

    def add(self, pk: int, sf_id: str, change_type: str, names: Any, event_values: Any) -> None:
        """Record an event whose changed fields and values are already in the database's
        form (``_event_json``): a bulk chunk adapts each distinct event once, however
        many trackers share it."""
        self.rows.append(
            (
                pk,
                sf_id,
                change_type,
                names,
                event_values,
                self._commit_timestamp,
                self.actor.pk if self.actor else None,
                self.actor.sf_id if self.actor else "",
                self.key,
                len(self.rows) + 1,
                self.origin,
                self._created_at,
            )
        )

    def flush(self) -> None:
        """Insert the events, in ``EVENT_COLUMNS`` order (``add`` builds the rows so)."""
        if not self.rows:
            return
        if connection.vendor == "postgresql" and len(self.rows) > 1:
            # A bulk chunk's thousands of events: psycopg's executemany sends one INSERT
            # per row, COPY streams them (6x faster for 10,000).
            TableWriter(ActionCadenceTrackerChangeEvent, EVENT_COLUMNS).write(self.rows)
        else:
            # Seen by Django's query log (a transition that writes one event, SQLite).
            quote = connection.ops.quote_name
            table = quote(ActionCadenceTrackerChangeEvent._meta.db_table)
            columns = ", ".join(quote(column) for column in EVENT_COLUMNS)
            placeholders = ", ".join(["%s"] * len(EVENT_COLUMNS))
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", self.rows
                )
        self.rows = []


@contextmanager
def _transition(actor: Any, origin: str) -> Iterator[_Transaction]:
    with transaction.atomic():
        tx = _Transaction(actor, origin)
        yield tx
        tx.flush()


def _update(
    tx: _Transaction,
    tracker: ActionCadenceTracker,
    *,
    expected_state: str,
    **changes: Any,
) -> None:
    """Write ``changes`` to a locked tracker, guarded by its State, and record the event."""
    changes.update(
        last_modified_date=tx.now,
        last_modified_by=tx.actor,
        system_modstamp=tx.now,
    )
    updated = ActionCadenceTracker.all_objects.filter(
        pk=tracker.pk, state=expected_state, is_deleted=tracker.is_deleted
    ).update(**changes)
    if updated != 1:
        raise ConcurrentChange(
            f"Tracker {tracker.sf_id} was changed by someone else; reload and try again."
        )
    was_active = tracker.state in ACTIVE_STATES
    changed = []
    for column, value in changes.items():
        if _differs(tracker, column, value):
            changed.append(_api_name(column))
        setattr(tracker, column, value)
    _refresh_is_active(tracker)
    if tracker.is_tracker_active != was_active:
        changed.append("IsTrackerActive")
    tx.record(tracker, ChangeType.UPDATE, [name for name in changed if name])


def _differs(tracker: ActionCadenceTracker, column: str, value: Any) -> bool:
    """Whether writing ``value`` to ``column`` changes it; a foreign key is compared by
    id, so no related row is fetched just to be compared."""
    field = tracker._meta.get_field(column)
    if field.is_relation:
        return getattr(tracker, field.attname) != getattr(value, "pk", value)
    return getattr(tracker, column) != value


def _refresh_is_active(tracker: ActionCadenceTracker) -> None:
    """IsTrackerActive is computed by the database; mirror it on the in-memory row."""
    tracker.is_tracker_active = tracker.state in ACTIVE_STATES


# --------------------------------------------------------------------------- access and locking


def _check_access(actor: Any, tracker: ActionCadenceTracker, level: str) -> None:
    """``actor`` None is the system (scheduler, worker). A tracker the actor cannot
    read does not exist for them."""
    if actor is None:
        return
    granted = access.access_level(actor, tracker)
    if granted is None:
        raise NotFound("No such tracker.")
    if access.rank(granted) < access.rank(level):
        raise InsufficientAccess(
            f"You need {level.capitalize()} access to tracker {tracker.sf_id}; you have "
            f"{granted.capitalize()}."
        )


def _lock(
    tracker: ActionCadenceTracker | int, *, include_deleted: bool = False
) -> ActionCadenceTracker:
    """Re-read the tracker with its row locked, so two reps act one after the other."""
    pk = tracker.pk if isinstance(tracker, ActionCadenceTracker) else tracker
    manager = ActionCadenceTracker.all_objects if include_deleted else ActionCadenceTracker.objects
    try:
        return (
            manager.select_for_update(of=("self",))
            .select_related("action_cadence", "current_step", "owner_user", "owner_queue")
            .get(pk=pk)
        )
    except ActionCadenceTracker.DoesNotExist:
        raise NotFound("No such tracker.") from None


def _require_state(tracker: ActionCadenceTracker, allowed: Iterable[str], action: str) -> None:
    allowed = tuple(allowed)
    if tracker.state in allowed:
        return
    if tracker.state == TrackerState.COMPLETE:
        raise InvalidTransition(
            f"Cannot {action} tracker {tracker.sf_id}: it is already Complete "
            f"({tracker.completion_reason})."
        )
    if tracker.state == TrackerState.PROCESSING:
        raise InvalidTransition(
            f"Cannot {action} tracker {tracker.sf_id}: it is Processing a bulk change; "
            "try again when that finishes."
        )
    raise InvalidTransition(
        f"Cannot {action} tracker {tracker.sf_id} in State {tracker.state}; "
        f"it must be {' or '.join(str(state) for state in allowed)}."
    )


def validate_disposition(disposition: str | None) -> str | None:
    """People choose from the seed's values; unknown ones are kept only on import."""
    if disposition in (None, ""):
        return None
    if disposition not in values(CompletionDisposition):
        raise InvalidValue(
            f"Invalid CompletionDisposition {disposition!r}; expected one of: "
            + ", ".join(values(CompletionDisposition))
            + ".",
            code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        )
    return disposition


# --------------------------------------------------------------------------- steps


def _open_step(tracker: ActionCadenceTracker) -> ActionCadenceStepTracker | None:
    return (
        ActionCadenceStepTracker.objects.select_for_update()
        .select_related("action_cadence_step")
        .filter(action_cadence_tracker=tracker, state__in=OPEN_STEP_STATES)
        .first()
    )


def _first_steps(cadence: ActionCadence) -> list[ActionCadenceStep]:
    steps = list(cadence.steps.all())
    root = next((step for step in steps if step.type == StepType.ROOT), None)
    parent = root.step_name if root else ""
    return [
        step for step in steps if step.parent_step_name == parent and step.type != StepType.ROOT
    ]


def _children(step: ActionCadenceStep) -> list[ActionCadenceStep]:
    return list(
        ActionCadenceStep.objects.filter(
            action_cadence_id=step.action_cadence_id, parent_step_name=step.step_name
        ).order_by("sort_order", "step_name")
    )


def _close_step(
    tx: _Transaction,
    step_tracker: ActionCadenceStepTracker | None,
    state: str,
    reason: str | None,
) -> None:
    if step_tracker is None:
        return
    step_tracker.state = state
    step_tracker.completion_reason = reason
    step_tracker.completion_date = tx.now
    step_tracker.completed_by = tx.actor
    step_tracker.stamp(tx.actor, tx.now)
    step_tracker.save()


def _enter_step(
    tx: _Transaction,
    tracker: ActionCadenceTracker,
    step: ActionCadenceStep,
    expected_state: str,
    **extra: Any,
) -> None:
    """Move a tracker onto ``step``: a new open step tracker, or the end of a daisy chain.

    ``extra`` are further tracker changes written in the same update (LastCompletedStepId).
    """
    if step.type == StepType.DAISY_CHAIN:
        _follow_daisy_chain(tx, tracker, step, expected_state, **extra)
        return
    due = tx.now
    step_state = StepTrackerState.ACTIVE
    resume_at = None
    if step.type == StepType.WAIT:
        due = tx.now + dt.timedelta(seconds=step.wait_time_in_seconds or 0)
        step_state = StepTrackerState.SCHEDULED
        resume_at = due
    step_tracker = ActionCadenceStepTracker(
        action_cadence_tracker=tracker,
        action_cadence_step=step,
        action_cadence_id=step.action_cadence_id,
        target_lead_id=tracker.target_lead_id,
        target_contact_id=tracker.target_contact_id,
        step_title=step.step_title or step.step_name,
        step_type=step.type,
        state=step_state,
        due_date_time=due,
    )
    step_tracker.stamp(tx.actor, tx.now)
    step_tracker.save()
    _update(
        tx,
        tracker,
        expected_state=expected_state,
        state=TrackerState.RUNNING,
        current_step=step_tracker,
        scheduled_resume_date_time=resume_at,
        **extra,
    )


def _complete(
    tx: _Transaction,
    tracker: ActionCadenceTracker,
    *,
    expected_state: str,
    reason: str,
    disposition: str | None = None,
    exit_rule: ActionCadenceRule | None = None,
    step_state: str = StepTrackerState.CANCELLED,
    step_reason: str | None = None,
    **extra: Any,
) -> None:
    """End the tracker; its open step (if any) is closed with ``step_state``."""
    step = _open_step(tracker)
    _close_step(tx, step, step_state, step_reason)
    changes = {
        "state": TrackerState.COMPLETE,
        "completion_reason": reason,
        "completion_disposition": disposition,
        "exit_global_rule": exit_rule,
        "current_step": None,
        "scheduled_resume_date_time": None,
        "error_message": None,
        **extra,
    }
    _update(tx, tracker, expected_state=expected_state, **changes)


def _follow_daisy_chain(
    tx: _Transaction,
    tracker: ActionCadenceTracker,
    step: ActionCadenceStep,
    expected_state: str,
    **extra: Any,
) -> None:
    iteration = tracker.daisy_chain_iteration or 1
    if iteration >= MAX_DAISY_CHAIN_ITERATION:
        # Salesforce follows at most 10 linked cadences; the 10th ends like any last step.
        _complete(
            tx,
            tracker,
            expected_state=expected_state,
            reason=CompletionReason.NO_MORE_STEPS,
            **extra,
        )
        return
    chained = step.chained_cadence
    if chained is None or chained.state != CadenceState.ACTIVE:
        name = chained.name if chained else "(none)"
        _update(
            tx,
            tracker,
            expected_state=expected_state,
            state=TrackerState.ERROR,
            error_message=f"Daisy chain step {step.step_name!r}: cadence {name} is not Active.",
            scheduled_resume_date_time=None,
            **extra,
        )
        return
    _complete(
        tx, tracker, expected_state=expected_state, reason=CompletionReason.DAISY_CHAINED, **extra
    )
    _start(
        tx,
        target=tracker.target,
        cadence=chained,
        owner=tracker.owner,
        related_to=tracker.related_to,
        attribution_type=tracker.related_to_attribution_type,
        iteration=iteration + 1,
        check_limit=False,  # one tracker ends as the next begins: the active count is unchanged
    )


# --------------------------------------------------------------------------- assign


def _check_org_limit(adding: int) -> None:
    # Locking the org row serialises concurrent assigners so none can overshoot.
    Organization.objects.select_for_update().filter(pk=Organization.get().pk).first()
    limit = settings.CADENCE_ACTIVE_TRACKER_LIMIT
    active = ActionCadenceTracker.objects.active().count()
    if active + adding > limit:
        raise OrgLimitReached(
            f"The org already has {active:,} active trackers; its limit is {limit:,}. "
            "Complete or remove some before adding more targets."
        )


def _start(
    tx: _Transaction,
    *,
    target: Lead | Contact,
    cadence: ActionCadence,
    owner: Any,
    related_to: Opportunity | Invoice | None,
    attribution_type: str | None,
    iteration: int,
    check_limit: bool,
) -> ActionCadenceTracker:
    if cadence.state != CadenceState.ACTIVE:
        raise InvalidTransition(
            f"Cadence {cadence.name!r} is {cadence.state}; only Active cadences accept targets."
        )
    if isinstance(target, Lead) and target.is_converted:
        raise InvalidTransition(f"Lead {target} is converted and cannot join a cadence.")
    if not isinstance(target, Lead | Contact):
        raise InvalidValue("A cadence target must be a Lead or a Contact.", code="INVALID_FIELD")
    if attribution_type is not None:
        if attribution_type not in values(RelatedToAttributionType):
            raise InvalidValue(
                f"Invalid RelatedToAttributionType {attribution_type!r}; expected one of: "
                + ", ".join(values(RelatedToAttributionType))
                + "."
            )
        if related_to is None:
            raise InvalidValue(
                "RelatedToAttributionType needs a RelatedToId (an Opportunity or Invoice).",
                code="FIELD_INTEGRITY_EXCEPTION",
            )
    owner_user = owner_queue = None
    if isinstance(owner, Group):
        if owner.type != Group.Type.QUEUE:
            raise InvalidValue(
                f"Group {owner.name} is not a queue; only users and queues own trackers.",
                code="INVALID_CROSS_REFERENCE_KEY",
            )
        owner_queue = owner
    elif owner is not None and getattr(owner, "pk", None):
        owner_user = owner
    else:
        raise InvalidValue(
            "A tracker needs an owner (a user or a queue).", code="REQUIRED_FIELD_MISSING"
        )
    first = _first_steps(cadence)
    if not first:
        raise InvalidTransition(f"Cadence {cadence.name!r} has no steps to run.")
    target_filter = Q(target_lead=target) if isinstance(target, Lead) else Q(target_contact=target)
    existing = (
        ActionCadenceTracker.objects.active()
        .filter(target_filter)
        .select_related("action_cadence")
        .first()
    )
    if existing is not None:
        raise InvalidTransition(
            f"{target} is already active in cadence {existing.action_cadence.name!r} "
            f"(tracker {existing.sf_id}); a target runs one cadence at a time."
        )
    if check_limit:
        _check_org_limit(1)
    tracker = ActionCadenceTracker(
        action_cadence=cadence,
        state=TrackerState.INITIALIZING,
        owner_user=owner_user,
        owner_queue=owner_queue,
        target_lead=target if isinstance(target, Lead) else None,
        target_contact=target if isinstance(target, Contact) else None,
        related_opportunity=related_to if isinstance(related_to, Opportunity) else None,
        related_invoice=related_to if isinstance(related_to, Invoice) else None,
        related_to_attribution_type=attribution_type,
        daisy_chain_iteration=iteration,
    )
    tracker.stamp(tx.actor, tx.now)
    try:
        with transaction.atomic():
            tracker.save()
    except IntegrityError as error:  # a concurrent assign of the same target won the race
        raise InvalidTransition(
            f"{target} was just added to a cadence by someone else; "
            "a target runs one cadence at a time."
        ) from error
    _refresh_is_active(tracker)
    tx.record(tracker, ChangeType.CREATE)
    # A new record owned by a member of a rule's source group is shared at once.
    recalc.recalculate_for_trackers([tracker.pk])
    _enter_step(tx, tracker, first[0], expected_state=TrackerState.INITIALIZING)
    return tracker


def assign_target(
    target: Lead | Contact,
    cadence: ActionCadence,
    *,
    actor: Any,
    owner: Any = None,
    related_to: Opportunity | Invoice | None = None,
    attribution_type: str | None = None,
    origin: str = "",
) -> ActionCadenceTracker:
    """Add a target to an Active cadence: Initializing, then Running on its first step."""
    with _transition(actor, origin or "assign") as tx:
        return _start(
            tx,
            target=target,
            cadence=cadence,
            owner=owner if owner is not None else actor,
            related_to=related_to,
            attribution_type=attribution_type,
            iteration=1,
            check_limit=True,
        )


# --------------------------------------------------------------------------- rep actions


def remove_target(
    tracker: ActionCadenceTracker | int,
    *,
    actor: Any,
    disposition: str | None = None,
    origin: str = "",
) -> ActionCadenceTracker:
    """A rep removes the target: Complete, ManuallyRemoved, with their disposition."""
    disposition = validate_disposition(disposition)
    with _transition(actor, origin or "remove") as tx:
        tracker = _lock(tracker)
        _check_access(actor, tracker, "edit")
        _require_state(tracker, REMOVABLE_STATES, "remove")
        _complete(
            tx,
            tracker,
            expected_state=tracker.state,
            reason=CompletionReason.MANUALLY_REMOVED,
            disposition=disposition,
        )
        return tracker


def pause(
    tracker: ActionCadenceTracker | int,
    *,
    actor: Any,
    resume_at: dt.datetime | None = None,
    origin: str = "",
) -> ActionCadenceTracker:
    with _transition(actor, origin or "pause") as tx:
        tracker = _lock(tracker)
        _check_access(actor, tracker, "edit")
        _require_state(tracker, (TrackerState.RUNNING,), "pause")
        if resume_at is not None and resume_at <= tx.now:
            raise InvalidValue(
                "ScheduledResumeDateTime must be in the future.", code="INVALID_FIELD"
            )
        step = _open_step(tracker)
        if step is not None:
            step.state = StepTrackerState.PAUSED
            step.stamp(tx.actor, tx.now)
            step.save()
        _update(
            tx,
            tracker,
            expected_state=TrackerState.RUNNING,
            state=TrackerState.PAUSED,
            scheduled_resume_date_time=resume_at,
        )
        return tracker


def resume(
    tracker: ActionCadenceTracker | int, *, actor: Any, origin: str = ""
) -> ActionCadenceTracker:
    with _transition(actor, origin or "resume") as tx:
        tracker = _lock(tracker)
        _check_access(actor, tracker, "edit")
        _require_state(tracker, (TrackerState.PAUSED,), "resume")
        _resume_locked(tx, tracker)
        return tracker


def _resume_locked(tx: _Transaction, tracker: ActionCadenceTracker) -> None:
    step = _open_step(tracker)
    resume_at = None
    if step is not None:
        # A Wait step stays scheduled even when its time passed during the pause: the
        # scheduler then finishes it on its next round. (Making it Active with no resume
        # time left it waiting for ever, since nobody completes a Wait step by hand.)
        waiting = step.step_type == StepType.WAIT and step.due_date_time is not None
        step.state = StepTrackerState.SCHEDULED if waiting else StepTrackerState.ACTIVE
        resume_at = step.due_date_time if waiting else None
        step.stamp(tx.actor, tx.now)
        step.save()
    _update(
        tx,
        tracker,
        expected_state=TrackerState.PAUSED,
        state=TrackerState.RUNNING,
        scheduled_resume_date_time=resume_at,
    )


def complete_step(
    tracker: ActionCadenceTracker | int,
    *,
    actor: Any,
    skip: bool = False,
    branch: str | None = None,
    origin: str = "",
) -> ActionCadenceTracker:
    """Finish (or skip) the current step and move to the next; none left → NoMoreSteps.

    ``branch`` names the child step to take after a Branch step.
    """
    reason = (
        StepTrackerCompletionReason.MANUALLY_SKIPPED
        if skip
        else StepTrackerCompletionReason.MANUALLY_COMPLETED
    )
    with _transition(actor, origin or ("skip step" if skip else "complete step")) as tx:
        tracker = _lock(tracker)
        _check_access(actor, tracker, "edit")
        _require_state(tracker, (TrackerState.RUNNING,), "advance")
        _advance(tx, tracker, reason, branch)
        return tracker


def _advance(
    tx: _Transaction, tracker: ActionCadenceTracker, reason: str, branch: str | None
) -> None:
    step = _open_step(tracker)
    if step is None:
        raise InvalidTransition(f"Tracker {tracker.sf_id} has no current step to complete.")
    children = _children(step.action_cadence_step)
    if branch is not None:
        chosen = [child for child in children if child.step_name == branch]
        if not chosen:
            raise InvalidValue(
                f"Step {step.action_cadence_step.step_name!r} has no branch {branch!r}; "
                "choose one of: "
                + (", ".join(child.step_name for child in children) or "(none)")
                + ".",
                code="INVALID_FIELD",
            )
        children = chosen
    _close_step(tx, step, StepTrackerState.COMPLETED, reason)
    if not children:
        _complete(
            tx,
            tracker,
            expected_state=TrackerState.RUNNING,
            reason=CompletionReason.NO_MORE_STEPS,
            last_completed_step=step,
        )
        return
    _enter_step(
        tx, tracker, children[0], expected_state=TrackerState.RUNNING, last_completed_step=step
    )


# --------------------------------------------------------------------------- automatic exits


def _active_tracker_of(target: Lead | Contact) -> ActionCadenceTracker | None:
    target_filter = Q(target_lead=target) if isinstance(target, Lead) else Q(target_contact=target)
    found = (
        ActionCadenceTracker.objects.active()
        .filter(target_filter)
        .values_list("pk", flat=True)
        .first()
    )
    return None if found is None else _lock(found)


def exit_event(
    target: Lead | Contact, event_type: str, *, actor: Any = None, origin: str = ""
) -> ActionCadenceTracker | None:
    """An email reply, bounce or call outcome for ``target``. If its cadence has a global
    exit rule for the event, the tracker completes AutomaticallyExited; else nothing changes."""
    if event_type not in values(GlobalEventType):
        raise InvalidValue(
            f"Invalid GlobalEventType {event_type!r}; expected one of: "
            + ", ".join(values(GlobalEventType))
            + "."
        )
    with _transition(actor, origin or f"exit event {event_type}") as tx:
        tracker = _active_tracker_of(target)
        if tracker is None or tracker.state not in (TrackerState.RUNNING, TrackerState.PAUSED):
            return None
        rule = (
            ActionCadenceRule.objects.filter(
                action_cadence_id=tracker.action_cadence_id,
                rule_type=RuleType.ROOT_STEP,
                global_event_type=event_type,
            )
            .order_by("rule_name")
            .first()
        )
        if rule is None:
            return None
        _complete(
            tx,
            tracker,
            expected_state=tracker.state,
            reason=CompletionReason.AUTOMATICALLY_EXITED,
            exit_rule=rule,
            step_reason=StepTrackerCompletionReason.AUTOMATICALLY_EXITED,
        )
        return tracker


def lead_converted(
    lead: Lead, *, actor: Any = None, origin: str = ""
) -> ActionCadenceTracker | None:
    """Converting a lead completes its active tracker with LeadConverted."""
    with _transition(actor, origin or "lead converted") as tx:
        Lead.objects.filter(pk=lead.pk).update(
            is_converted=True, last_modified_date=tx.now, system_modstamp=tx.now
        )
        lead.is_converted = True
        tracker = _active_tracker_of(lead)
        if tracker is None:
            return None
        _require_state(
            tracker,
            (TrackerState.RUNNING, TrackerState.PAUSED, TrackerState.INITIALIZING),
            "convert",
        )
        _complete(tx, tracker, expected_state=tracker.state, reason=CompletionReason.LEAD_CONVERTED)
        return tracker


# --------------------------------------------------------------------------- errors


def mark_error(
    tracker: ActionCadenceTracker | int, message: str, *, actor: Any = None, origin: str = ""
) -> ActionCadenceTracker:
    if not message or not message.strip():
        raise InvalidValue("An Error tracker needs an ErrorMessage.", code="REQUIRED_FIELD_MISSING")
    with _transition(actor, origin or "error") as tx:
        tracker = _lock(tracker)
        _require_state(
            tracker, (TrackerState.RUNNING, TrackerState.PAUSED, TrackerState.INITIALIZING), "fail"
        )
        _update(
            tx,
            tracker,
            expected_state=tracker.state,
            state=TrackerState.ERROR,
            error_message=message.strip()[:255],
        )
        return tracker


def retry(
    tracker: ActionCadenceTracker | int, *, actor: Any, origin: str = ""
) -> ActionCadenceTracker:
    """Put an Error tracker back to Running on its current step."""
    with _transition(actor, origin or "retry") as tx:
        tracker = _lock(tracker)
        _check_access(actor, tracker, "edit")
        _require_state(tracker, (TrackerState.ERROR,), "retry")
        target_filter = (
            Q(target_lead_id=tracker.target_lead_id)
            if tracker.target_lead_id
            else Q(target_contact_id=tracker.target_contact_id)
        )
        if (tracker.target_lead_id or tracker.target_contact_id) and (
            ActionCadenceTracker.objects.active()
            .filter(target_filter)
            .exclude(pk=tracker.pk)
            .exists()
        ):
            raise InvalidTransition(
                f"Cannot retry tracker {tracker.sf_id}: its target is active in another cadence."
            )
        _check_org_limit(1)
        chain = _failed_daisy_chain(tracker)
        if chain is not None:
            # A daisy chain whose cadence was not Active left no open step: retrying
            # follows the chain again (Running on its old step would be stuck for ever).
            if chain.chained_cadence is None or chain.chained_cadence.state != CadenceState.ACTIVE:
                raise InvalidTransition(
                    f"Cannot retry tracker {tracker.sf_id}: the chained cadence of step "
                    f"{chain.step_name!r} is still not Active."
                )
            _follow_daisy_chain(tx, tracker, chain, expected_state=TrackerState.ERROR)
            return tracker
        _update(
            tx,
            tracker,
            expected_state=TrackerState.ERROR,
            state=TrackerState.RUNNING,
            error_message=None,
        )
        return tracker


def _failed_daisy_chain(tracker: ActionCadenceTracker) -> ActionCadenceStep | None:
    """The DaisyChain step an Error tracker failed to follow, if that is why it is in Error.

    Such a tracker has no open step; its last completed step's child is the chain (a
    DaisyChain step is last in its path, so it is the only child of that type).
    """
    if tracker.last_completed_step_id is None or _open_step(tracker) is not None:
        return None
    last = ActionCadenceStepTracker.objects.select_related("action_cadence_step").get(
        pk=tracker.last_completed_step_id
    )
    return next(
        (step for step in _children(last.action_cadence_step) if step.type == StepType.DAISY_CHAIN),
        None,
    )


# --------------------------------------------------------------------------- deletion


def delete_tracker(
    tracker: ActionCadenceTracker | int, *, actor: Any, origin: str = ""
) -> ActionCadenceTracker:
    """Soft delete: the tracker goes to the recycle bin for CADENCE_RECYCLE_BIN_DAYS."""
    with _transition(actor, origin or "delete") as tx:
        tracker = _lock(tracker)
        _check_access(actor, tracker, "all")
        if tracker.state == TrackerState.PROCESSING:
            _require_state(tracker, (), "delete")
        step = _open_step(tracker)
        _close_step(tx, step, StepTrackerState.CANCELLED, None)
        updated = ActionCadenceTracker.all_objects.filter(pk=tracker.pk, is_deleted=False).update(
            is_deleted=True,
            last_modified_date=tx.now,
            last_modified_by=tx.actor,
            system_modstamp=tx.now,
        )
        if updated != 1:
            raise ConcurrentChange(f"Tracker {tracker.sf_id} was deleted by someone else.")
        tracker.is_deleted = True
        tracker.system_modstamp = tx.now
        tx.record(tracker, ChangeType.DELETE)
        return tracker


def undelete_tracker(
    tracker: ActionCadenceTracker | int, *, actor: Any, origin: str = ""
) -> ActionCadenceTracker:
    """Restore from the recycle bin. An active tracker whose target has since started
    another cadence cannot come back active; that is refused with the reason."""
    with _transition(actor, origin or "undelete") as tx:
        tracker = _lock(tracker, include_deleted=True)
        # access_level already answers "all" for administrators.
        if actor is not None and access.access_level(actor, tracker) != "all":
            raise NotFound("No such tracker in the recycle bin.")
        if not tracker.is_deleted:
            raise InvalidTransition(f"Tracker {tracker.sf_id} is not in the recycle bin.")
        if tracker.state in ACTIVE_STATES:
            if tracker.target is not None and _active_tracker_of(tracker.target) is not None:
                raise InvalidTransition(
                    f"Cannot restore tracker {tracker.sf_id}: "
                    "its target is active in another cadence."
                )
            _check_org_limit(1)
        ActionCadenceTracker.all_objects.filter(pk=tracker.pk, is_deleted=True).update(
            is_deleted=False,
            last_modified_date=tx.now,
            last_modified_by=tx.actor,
            system_modstamp=tx.now,
        )
        _reopen_cancelled_step(tx, tracker)
        tracker.is_deleted = False
        tracker.system_modstamp = tx.now
        tx.record(tracker, ChangeType.UNDELETE)
        return tracker


def _reopen_cancelled_step(tx: _Transaction, tracker: ActionCadenceTracker) -> None:
    """Undo what delete_tracker did to the open step, so a restored tracker carries on
    where it was (it used to come back Running with no open step, unable to advance)."""
    if tracker.state == TrackerState.COMPLETE or tracker.current_step_id is None:
        return
    step = ActionCadenceStepTracker.objects.filter(
        pk=tracker.current_step_id,
        state=StepTrackerState.CANCELLED,
        completion_reason__isnull=True,
    ).first()
    if step is None:
        return
    if tracker.state == TrackerState.PAUSED:
        step.state = StepTrackerState.PAUSED
    elif step.step_type == StepType.WAIT and step.due_date_time is not None:
        step.state = StepTrackerState.SCHEDULED
    else:
        step.state = StepTrackerState.ACTIVE
    step.completion_date = None
    step.completed_by = None
    step.stamp(tx.actor, tx.now)
    step.save()


def purge_deleted(now: dt.datetime | None = None) -> int:
    """Hard-delete trackers that have been in the recycle bin longer than its window."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.CADENCE_RECYCLE_BIN_DAYS)
    with transaction.atomic():
        doomed = ActionCadenceTracker.all_objects.filter(
            is_deleted=True, system_modstamp__lt=cutoff
        )
        ids = list(doomed.values_list("pk", flat=True))
        if not ids:
            return 0
        # Step trackers point back at their tracker; unhook the tracker's own pointers first.
        ActionCadenceTracker.all_objects.filter(pk__in=ids).update(
            current_step=None, last_completed_step=None
        )
        ActionCadenceTracker.all_objects.filter(pk__in=ids).delete()
    return len(ids)


# --------------------------------------------------------------------------- scheduler


def resume_due(now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Resume paused trackers and finish wait steps whose ScheduledResumeDateTime has passed."""
    now = now or timezone.now()
    due = list(
        ActionCadenceTracker.objects.filter(
            scheduled_resume_date_time__lte=now,
            state__in=(TrackerState.RUNNING, TrackerState.PAUSED),
        )
        .order_by("scheduled_resume_date_time")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for pk in due:
        try:
            with _transition(None, "scheduler") as tx:
                tracker = _lock(pk)
                if (
                    tracker.scheduled_resume_date_time is None
                    or tracker.scheduled_resume_date_time > now
                ):
                    continue
                if tracker.state == TrackerState.PAUSED:
                    _resume_locked(tx, tracker)
                elif tracker.state == TrackerState.RUNNING:
                    _advance(tx, tracker, StepTrackerCompletionReason.AUTOMATICALLY_COMPLETED, None)
                else:
                    continue
            done += 1
        except LifecycleError as error:
            logger.warning("Scheduler skipped tracker %s: %s", pk, error.message)
    return done


# --------------------------------------------------------------------------- bulk work (Processing)


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Ids per IN (...) list: well under SQLite's 32,766 bound variables.
ID_CHUNK = 5000


def start_bulk(
    action: str,
    trackers: Iterable[ActionCadenceTracker | int] | QuerySet,
    *,
    actor: Any,
    disposition: str | None = None,
) -> BulkJob:
    """Mark the trackers Processing and queue a background task to finish them.

    ``trackers`` is either trackers or ids chosen one by one — each one that the
    actor cannot edit, or whose State the action does not apply to, is reported in
    the job's errors and left untouched — or a queryset ("everything matching this
    filter"), of which the editable trackers in an applicable State are taken.
    Marking is set-based, a few statements per 5,000 trackers.
    """
    if action not in BULK_SOURCE_STATES:
        raise InvalidValue(f"Unknown bulk action {action!r}.", code="INVALID_OPERATION")
    disposition = validate_disposition(disposition) if action == BulkAction.REMOVE else None
    sources = BULK_SOURCE_STATES[action]
    chosen: list[int] | None = None
    if not isinstance(trackers, QuerySet):
        chosen = list(
            dict.fromkeys(
                tracker.pk if isinstance(tracker, ActionCadenceTracker) else int(tracker)
                for tracker in trackers
            )
        )
        if not chosen:
            raise InvalidValue("Choose at least one tracker.", code="REQUIRED_FIELD_MISSING")

    def scoped(queryset: QuerySet, level: str) -> QuerySet:
        return queryset.visible_to(actor, level) if actor is not None else queryset

    with _transition(actor, f"bulk {action}") as tx:
        job = BulkJob.objects.create(
            action=action, requested_by=tx.actor, completion_disposition=disposition
        )
        errors: list[dict] = []
        # pk -> (sf_id, LastModifiedById) of each tracker taken, read as it is locked:
        # what its event needs.
        eligible: dict[int, tuple[str, int | None]] = {}
        columns = ("pk", "sf_id", "last_modified_by_id")
        if chosen is None:
            pool = ActionCadenceTracker.objects.filter(pk__in=trackers.values("pk"))
            eligible = {
                pk: (sf_id, modified_by)
                for pk, sf_id, modified_by in scoped(pool, "edit")
                .filter(state__in=sources)
                .select_for_update()
                .order_by("pk")
                .values_list(*columns)
            }
        else:
            for ids in _chunks(chosen, ID_CHUNK):
                pool = ActionCadenceTracker.objects.filter(pk__in=ids)
                found = {
                    pk: (sf_id, modified_by)
                    for pk, sf_id, modified_by in scoped(pool, "edit")
                    .filter(state__in=sources)
                    .select_for_update()
                    .values_list(*columns)
                }
                eligible.update((pk, found[pk]) for pk in ids if pk in found)
                refused = [pk for pk in ids if pk not in found]
                if refused:
                    seen = {
                        pk: (sf, state)
                        for pk, sf, state in scoped(
                            ActionCadenceTracker.objects.filter(pk__in=refused), "read"
                        ).values_list("pk", "sf_id", "state")
                    }
                    errors.extend(_bulk_refusal(action, seen.get(pk), sources) for pk in refused)
        marked_event = _processing_events(tx)
        actor_pk = tx.actor.pk if tx.actor else None
        for ids in _chunks(list(eligible), ID_CHUNK):
            rows = ActionCadenceTracker.objects.filter(pk__in=ids, state__in=sources)
            marked = rows.update(
                state=TrackerState.PROCESSING,
                prior_state=F("state"),  # SET reads the row as it was
                bulk_job=job,
                last_modified_date=tx.now,
                last_modified_by=tx.actor,
                system_modstamp=tx.now,
            )
            if marked != len(ids):
                raise ConcurrentChange("Some trackers changed while the job was being set up.")
            for pk in sorted(ids):
                sf_id, modified_by = eligible[pk]
                tx.add(pk, sf_id, ChangeType.UPDATE, *marked_event[modified_by == actor_pk])
        job.total = len(eligible)
        job.failed = len(errors)
        job.errors = errors
        if not eligible:
            job.status = BulkJobStatus.DONE
            job.finished_at = tx.now
        job.save()
        if eligible:
            _queue_bulk_job(job)
    return job


def _processing_events(tx: _Transaction) -> dict[bool, tuple[Any, Any]]:
    """The two events a tracker put in Processing can have, ready for ``tx.add``: by
    whether the actor was already its last modifier (LastModifiedById then unchanged).
    Built as ``_update`` builds them, changed fields in name order."""
    marked = ActionCadenceTracker(
        state=TrackerState.PROCESSING,
        last_modified_date=tx.now,
        last_modified_by=tx.actor,
        system_modstamp=tx.now,
    )
    names = ["LastModifiedDate", "State", "SystemModstamp"]
    return {
        True: _Transaction.event(marked, ChangeType.UPDATE, names),
        False: _Transaction.event(marked, ChangeType.UPDATE, [*names, "LastModifiedById"]),
    }


def _queue_bulk_job(job: BulkJob) -> None:
    """The database queue commits the job's task with the marks, atomically. Redis is
    told only once the marks are committed (a fast worker would look for a job that does
    not exist yet), and if it refuses the task the trackers go back at once."""
    from trackers import tasks

    def send() -> None:
        result = tasks.run_bulk_job.enqueue(job.pk)
        BulkJob.objects.filter(pk=job.pk).update(task_id=str(result.id))
        job.task_id = str(result.id)

    def send_or_restore() -> None:
        try:
            send()
        except Exception as error:
            logger.exception("Could not queue bulk job %s; restoring its trackers", job.pk)
            restore_processing(job, reason=f"the task queue refused it: {error}")
            job.refresh_from_db()

    if tasks.commits_with_the_database(tasks.run_bulk_job):
        send()
    else:
        transaction.on_commit(send_or_restore)


def _bulk_refusal(action: str, seen: tuple[str, str] | None, sources: tuple[str, ...]) -> dict:
    if seen is None:
        return {"id": None, "message": "No such tracker.", "errorCode": "NOT_FOUND"}
    sf_id, state = seen
    if state in sources:
        return {
            "id": sf_id,
            "message": "You need Edit access to this tracker.",
            "errorCode": "INSUFFICIENT_ACCESS_OR_READONLY",
        }
    return {
        "id": sf_id,
        "message": f"Cannot {action} a tracker in State {state}.",
        "errorCode": "INVALID_OPERATION",
    }


def _pause_between_chunks(job: BulkJob) -> None:
    time.sleep(float(os.environ["CADENCE_TEST_BULK_CHUNK_DELAY"]))


# A test hook: called after each committed chunk, so a test can simulate a crash, or (from
# the environment, for a worker in another process) slow a job down enough to kill its
# worker between two chunks.
_after_chunk_hook: Any = (
    _pause_between_chunks if os.environ.get("CADENCE_TEST_BULK_CHUNK_DELAY") else None
)


def run_bulk_job(job_id: int) -> BulkJob:
    """Apply a bulk job's final state in chunks; on any failure put every tracker
    still Processing back in its prior state, so none is stranded."""
    job = BulkJob.objects.get(pk=job_id)
    if job.status in (BulkJobStatus.DONE, BulkJobStatus.FAILED):
        return job
    BulkJob.objects.filter(pk=job.pk).update(
        status=BulkJobStatus.RUNNING, started_at=timezone.now()
    )
    # Chunks go in id order, each taking up where the last ended: every tracker of the job
    # before that point is finished, and the index on the job finds the next ones
    # without reading the finished ones again.
    after = 0
    try:
        while True:
            with _transition(job.requested_by, f"bulk {job.action}") as tx:
                chunk = list(
                    ActionCadenceTracker.objects.select_for_update()
                    .filter(bulk_job=job, state=TrackerState.PROCESSING, pk__gt=after)
                    .order_by("pk")
                    .values_list("pk", "sf_id", *_FINISHED_COLUMNS)[:BULK_CHUNK_SIZE]
                )
                if not chunk:
                    break
                _finish_chunk(tx, job, chunk)
                job.succeeded += len(chunk)
                BulkJob.objects.filter(pk=job.pk).update(
                    succeeded=job.succeeded, heartbeat_at=tx.now
                )
            if _after_chunk_hook is not None:
                _after_chunk_hook(job)
            if len(chunk) < BULK_CHUNK_SIZE:
                break
            after = chunk[-1][0]
    except Exception as error:
        logger.exception("Bulk job %s failed; restoring trackers still Processing", job.pk)
        restore_processing(job, reason=str(error))
        raise
    # Only a job still RUNNING is done: if recovery gave up on it meanwhile (a slow worker
    # taken for a dead one) it restored trackers, and the job stays FAILED to say so.
    BulkJob.objects.filter(pk=job.pk, status=BulkJobStatus.RUNNING).update(
        status=BulkJobStatus.DONE, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


# What a bulk job's final update may write, read with the chunk to tell which fields it
# really changes.
_FINISHED_COLUMNS = (
    "state",
    "completion_reason",
    "completion_disposition",
    "current_step_id",
    "scheduled_resume_date_time",
    "last_modified_by_id",
    "last_modified_date",
    "system_modstamp",
    "prior_state",
)


def _finish_chunk(tx: _Transaction, job: BulkJob, chunk: list[tuple]) -> None:
    """Apply the job's final state to a locked chunk, as the single-tracker transitions
    would: the same step states, resume times and changed fields."""
    ids = [row[0] for row in chunk]
    open_steps = ActionCadenceStepTracker.objects.filter(
        action_cadence_tracker_id__in=ids, state__in=OPEN_STEP_STATES
    )
    stamps = {"last_modified_date": tx.now, "system_modstamp": tx.now}
    # Trackers that resume onto a Wait step keep waiting until its due time.
    resume_at: dict[int, dt.datetime] = {}
    if job.action == BulkAction.REMOVE:
        open_steps.update(
            state=StepTrackerState.CANCELLED,
            completion_date=tx.now,
            completed_by=tx.actor,
            **stamps,
        )
        final = {
            "state": TrackerState.COMPLETE,
            "completion_reason": CompletionReason.MANUALLY_REMOVED,
            "completion_disposition": job.completion_disposition,
            "current_step": None,
            "scheduled_resume_date_time": None,
        }
    elif job.action == BulkAction.PAUSE:
        open_steps.update(state=StepTrackerState.PAUSED, **stamps)
        # Like pause() without a resume time: a Wait step's due time must not resume the
        # tracker on its own (the scheduler resumes Paused trackers that have one).
        final = {"state": TrackerState.PAUSED, "scheduled_resume_date_time": None}
    else:
        # Like resume(): a Wait step goes back on the schedule (Active, it would never end).
        waits = open_steps.filter(step_type=StepType.WAIT, due_date_time__isnull=False)
        resume_at = dict(waits.values_list("action_cadence_tracker_id", "due_date_time"))
        open_steps.exclude(pk__in=waits.values("pk")).update(
            state=StepTrackerState.ACTIVE, **stamps
        )
        waits.update(state=StepTrackerState.SCHEDULED, **stamps)
        final = {"state": TrackerState.RUNNING, "scheduled_resume_date_time": None}
    final.update(prior_state=None, last_modified_by=tx.actor, **stamps)
    written = dict(final)
    if resume_at:
        written["scheduled_resume_date_time"] = Case(
            *(When(pk=pk, then=Value(due)) for pk, due in resume_at.items()),
            default=Value(None),
            output_field=DateTimeField(),
        )
    updated = ActionCadenceTracker.objects.filter(pk__in=ids, state=TrackerState.PROCESSING).update(
        **written
    )
    if updated != len(ids):
        raise ConcurrentChange("Trackers left Processing while the job held them.")
    _record_updates(
        tx,
        chunk,
        final,
        {pk: {"scheduled_resume_date_time": due} for pk, due in resume_at.items()},
    )


def _record_updates(
    tx: _Transaction,
    rows: list[tuple],
    final: dict[str, Any],
    varying: dict[int, dict[str, Any]] | None = None,
) -> None:
    """The change events of a set-based update that wrote ``final`` to each of ``rows``
    (pk, sf_id, then ``_FINISHED_COLUMNS`` as they were), and ``varying[pk]`` on top
    to some, as ``_update`` writes them one by one: only the fields that really changed
    (IsTrackerActive only when it flips: not for pause or resume, Processing being
    active too), with their new values.

    Which fields change depends only on the before-values compared with what was
    written, so trackers alike in that share one event, built once from an unsaved
    tracker holding the new values: 10,000 removals build a handful.
    """
    varying = varying or {}
    state_column = _FINISHED_COLUMNS.index("state")
    comparisons: dict[tuple, tuple[list[tuple[str, int, Any]], bool]] = {}
    events: dict[tuple, tuple[Any, Any]] = {}
    for pk, sf_id, *before in rows:
        extra = tuple(varying.get(pk, {}).items())
        if extra not in comparisons:
            comparisons[extra] = _comparisons({**final, **dict(extra)})
        compared, now_active = comparisons[extra]
        changed = tuple(name for name, column, value in compared if before[column] != value)
        if (before[state_column] in ACTIVE_STATES) != now_active:
            changed += ("IsTrackerActive",)
        event = events.get((changed, extra))
        if event is None:
            after = ActionCadenceTracker(**{**final, **dict(extra)})
            _refresh_is_active(after)
            event = _Transaction.event(after, ChangeType.UPDATE, changed)
            events[(changed, extra)] = event
        tx.add(pk, sf_id, ChangeType.UPDATE, *event)


def _comparisons(written: dict[str, Any]) -> tuple[list[tuple[str, int, Any]], bool]:
    """(API name, position in ``_FINISHED_COLUMNS``, value as read back) of each field in
    ``written`` that the API shows, and whether the new State is an active one."""
    compared = []
    for name, value in written.items():
        api_name = _api_name(name)
        if api_name:
            column = _FINISHED_COLUMNS.index(ActionCadenceTracker._meta.get_field(name).attname)
            compared.append((api_name, column, getattr(value, "pk", value)))
    return compared, written["state"] in ACTIVE_STATES


def restore_processing(job: BulkJob, reason: str = "") -> int:
    """Return every tracker this job still holds in Processing to its prior state."""
    restored = 0
    with _transition(None, f"bulk {job.action} recovery") as tx:
        held = list(
            ActionCadenceTracker.objects.select_for_update()
            .filter(bulk_job=job, state=TrackerState.PROCESSING)
            .order_by("pk")
            .values_list("pk", "sf_id", *_FINISHED_COLUMNS)
        )
        # Read the job again under its lock (after the trackers', the order the worker
        # takes them in): a recovery that ran meanwhile has already counted and explained
        # what it restored, and a stale copy would write over that.
        job = BulkJob.objects.select_for_update().get(pk=job.pk)
        if not held and job.status in (BulkJobStatus.DONE, BulkJobStatus.FAILED):
            return 0
        if held:
            # Set-based, as the worker finishes them: each tracker back to its own prior
            # state (SET reads the row as it was), one event each as _update writes it.
            final = {
                "prior_state": None,
                "last_modified_date": tx.now,
                "last_modified_by": None,
                "system_modstamp": tx.now,
            }
            restored = ActionCadenceTracker.objects.filter(
                bulk_job=job, state=TrackerState.PROCESSING
            ).update(state=F("prior_state"), **final)
            if restored != len(held):
                raise ConcurrentChange("Trackers left Processing while being restored.")
            prior = 2 + _FINISHED_COLUMNS.index("prior_state")
            _record_updates(tx, held, final, {row[0]: {"state": row[prior]} for row in held})
        errors = list(job.errors or [])
        if restored:
            errors.append(
                {
                    "id": None,
                    "message": f"{restored} trackers were restored after a failure: {reason}"[:500],
                    "errorCode": "UNKNOWN_EXCEPTION",
                }
            )
        BulkJob.objects.filter(pk=job.pk).update(
            status=BulkJobStatus.FAILED,
            failed=job.failed + restored,
            errors=errors,
            finished_at=tx.now,
        )
    return restored


def recover_stuck_jobs(now: dt.datetime | None = None) -> int:
    """Restore trackers held by jobs whose worker died: not finished within the timeout."""
    cutoff = (now or timezone.now()) - dt.timedelta(
        seconds=settings.CADENCE_PROCESSING_TIMEOUT_SECONDS
    )
    restored = 0
    # A job is stuck when neither its start nor its last finished chunk is recent.
    stuck = BulkJob.objects.annotate(
        last_sign=Coalesce("heartbeat_at", "started_at", "created_at")
    ).filter(status__in=(BulkJobStatus.QUEUED, BulkJobStatus.RUNNING), last_sign__lt=cutoff)
    for job in stuck:
        restored += restore_processing(job, reason="the worker stopped before finishing")
        _close_dead_task(job)
    return restored


class WorkerDied(Exception):
    """What a bulk job's task record says when its worker stopped mid-job."""


def _close_dead_task(job: BulkJob) -> None:
    """A killed database-queue worker leaves its task RUNNING for ever (django-tasks-db
    has no reaper); mark it FAILED, so the queue's records say what happened. RQ's own
    jobs are not in this table, so their ids match nothing here."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    if not job.task_id:
        return
    try:
        uuid.UUID(str(job.task_id))
    except ValueError:
        return
    DBTaskResult.objects.filter(pk=job.task_id, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.FAILED,
        finished_at=timezone.now(),
        exception_class_path=f"{WorkerDied.__module__}.{WorkerDied.__qualname__}",
        traceback=(
            f"{WorkerDied.__qualname__}: the worker stopped before finishing bulk job "
            f"{job.pk}; its trackers were restored by the recovery job."
        ),
    )
