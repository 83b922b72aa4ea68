"""The cadence-tracking domain, named as Salesforce names it.

Trackers change state only through ``trackers.lifecycle``; the constraints
below are the invariants the database holds even if some code forgets.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from cadence_site.sobject import SObject
from trackers.choices import (
    ACTIVE_STATES,
    OPEN_STEP_STATES,
    BulkAction,
    BulkJobStatus,
    CadenceState,
    CadenceType,
    ChangeType,
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


def _in(field: str, choices: type[models.TextChoices], nullable: bool = True) -> Q:
    check = Q(**{f"{field}__in": values(choices)})
    return check | Q(**{f"{field}__isnull": True}) if nullable else check


def _at_most_one(*fields: str) -> Q:
    """True when no more than one of these nullable columns is set."""
    condition = Q()
    for index, first in enumerate(fields):
        for second in fields[index + 1 :]:
            condition &= Q(**{f"{first}__isnull": True}) | Q(**{f"{second}__isnull": True})
    return condition


# --------------------------------------------------------------------------- targets


class Lead(SObject):
    KEY_PREFIX = "00Q"

    first_name = models.CharField("FirstName", max_length=40, blank=True)
    last_name = models.CharField("LastName", max_length=80)
    company = models.CharField("Company", max_length=255)
    email = models.EmailField("Email", blank=True)
    status = models.CharField("Status", max_length=40, default="Open - Not Contacted")
    is_converted = models.BooleanField("IsConverted", default=False)

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Contact(SObject):
    KEY_PREFIX = "003"

    first_name = models.CharField("FirstName", max_length=40, blank=True)
    last_name = models.CharField("LastName", max_length=80)
    email = models.EmailField("Email", blank=True)
    title = models.CharField("Title", max_length=128, blank=True)

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Opportunity(SObject):
    KEY_PREFIX = "006"

    name = models.CharField("Name", max_length=120)
    stage_name = models.CharField("StageName", max_length=40, default="Prospecting")
    amount = models.DecimalField("Amount", max_digits=18, decimal_places=2, null=True, blank=True)
    close_date = models.DateField("CloseDate")

    class Meta:
        verbose_name_plural = "opportunities"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Invoice(SObject):
    KEY_PREFIX = "3tt"

    document_number = models.CharField("DocumentNumber", max_length=255)
    status = models.CharField("Status", max_length=40, default="Draft")
    total_amount = models.DecimalField(
        "TotalAmount", max_digits=18, decimal_places=2, null=True, blank=True
    )

    class Meta:
        ordering = ["document_number"]

    def __str__(self) -> str:
        return self.document_number


# --------------------------------------------------------------------------- cadences


class ActionCadence(SObject):
    KEY_PREFIX = "77C"

    name = models.CharField("Name", max_length=80, unique=True)
    state = models.CharField(
        "State", max_length=10, choices=CadenceState.choices, default=CadenceState.DRAFT
    )
    type = models.CharField(
        "Type", max_length=10, choices=CadenceType.choices, default=CadenceType.STANDARD
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="OwnerId",
        on_delete=models.PROTECT,
        related_name="owned_cadences",
    )
    description = models.TextField("Description", blank=True)
    activated_date = models.DateTimeField("ActivatedDate", null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=_in("state", CadenceState, False), name="cadence_state_valid"
            ),
            models.CheckConstraint(
                condition=_in("type", CadenceType, False), name="cadence_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ActionCadenceStep(SObject):
    KEY_PREFIX = "7CS"

    action_cadence = models.ForeignKey(
        ActionCadence,
        verbose_name="ActionCadenceId",
        on_delete=models.CASCADE,
        related_name="steps",
    )
    step_name = models.CharField("StepName", max_length=80)
    step_title = models.CharField("StepTitle", max_length=255, blank=True)
    type = models.CharField("Type", max_length=20, choices=StepType.choices)
    parent_step_name = models.CharField("ParentStepName", max_length=80, blank=True)
    # Siblings under a Branch are tried in this order; a linear path has one child per step.
    sort_order = models.PositiveIntegerField(default=0)
    wait_time_in_seconds = models.PositiveIntegerField("WaitTimeInSeconds", null=True, blank=True)
    chained_cadence = models.ForeignKey(
        ActionCadence,
        verbose_name="ChainedCadenceId",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="chained_from_steps",
    )

    class Meta:
        ordering = ["action_cadence", "sort_order", "step_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["action_cadence", "step_name"], name="step_name_unique_in_cadence"
            ),
            models.CheckConstraint(condition=_in("type", StepType, False), name="step_type_valid"),
            models.CheckConstraint(
                condition=~Q(type="Wait") | Q(wait_time_in_seconds__isnull=False),
                name="step_wait_needs_wait_time",
            ),
            models.CheckConstraint(
                condition=Q(type="DaisyChain") | Q(chained_cadence__isnull=True),
                name="step_chained_cadence_only_on_daisy_chain",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action_cadence.name} / {self.step_name}"


class ActionCadenceRule(SObject):
    KEY_PREFIX = "7CR"

    action_cadence = models.ForeignKey(
        ActionCadence,
        verbose_name="ActionCadenceId",
        on_delete=models.CASCADE,
        related_name="rules",
    )
    rule_name = models.CharField("RuleName", max_length=80)
    rule_type = models.CharField(
        "RuleType", max_length=20, choices=RuleType.choices, default=RuleType.ROOT_STEP
    )
    global_event_type = models.CharField(
        "GlobalEventType", max_length=30, choices=GlobalEventType.choices, null=True, blank=True
    )

    class Meta:
        ordering = ["action_cadence", "rule_name"]
        constraints = [
            models.CheckConstraint(
                condition=_in("rule_type", RuleType, False), name="rule_type_valid"
            ),
            models.CheckConstraint(
                condition=_in("global_event_type", GlobalEventType), name="rule_event_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.rule_name


# --------------------------------------------------------------------------- trackers


class TrackerQuerySet(models.QuerySet):
    def active(self) -> TrackerQuerySet:
        return self.filter(state__in=ACTIVE_STATES)

    def visible_to(
        self, user: object, level: str = "read", purpose: str = "page"
    ) -> TrackerQuerySet:
        """The sharing chokepoint: only trackers ``user`` has ``level`` access to.

        ``purpose="count"`` gives the same rows in the shape that counts and
        aggregates fastest (``sharing.access``); the default suits pages.
        """
        from sharing.access import visible_q

        return self.filter(visible_q(user, level, purpose))

    def visible_pair(
        self, user: object, level: str = "read"
    ) -> tuple[TrackerQuerySet, TrackerQuerySet]:
        """``visible_to`` shaped for a page and for its counts, from one read of the org."""
        from sharing.access import visible_qs

        for_page, for_count = visible_qs(user, level, ("page", "count"))
        return self.filter(for_page), self.filter(for_count)

    def with_related(self) -> TrackerQuerySet:
        """What a list of trackers shows, in one query."""
        return self.select_related(
            "action_cadence",
            "owner_user",
            "owner_queue",
            "target_lead",
            "target_contact",
            "current_step",
        )


class LiveTrackerManager(models.Manager.from_queryset(TrackerQuerySet)):
    """Soft-deleted trackers are invisible everywhere but the recycle bin."""

    def get_queryset(self) -> TrackerQuerySet:
        return super().get_queryset().filter(is_deleted=False)


class ActionCadenceTracker(SObject):
    KEY_PREFIX = "7CT"

    action_cadence = models.ForeignKey(
        ActionCadence,
        verbose_name="ActionCadenceId",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="trackers",
        # Its own index stays, though tracker_cadence_state leads with the column: only
        # a one-column index keeps a cadence's trackers in Id order, which the admin's
        # list filtered by cadence (ORDER BY Id DESC) reads on SQLite without sorting
        # (0.6 ms; 23 ms sorting the cadence's 10,000 trackers at 100,000 without it).
    )
    completion_disposition = models.CharField(
        "CompletionDisposition", max_length=255, null=True, blank=True
    )
    completion_reason = models.CharField(
        "CompletionReason", max_length=40, choices=CompletionReason.choices, null=True, blank=True
    )
    current_step = models.ForeignKey(
        "ActionCadenceStepTracker",
        verbose_name="CurrentStepId",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    daisy_chain_iteration = models.PositiveSmallIntegerField(
        "DaisyChainIteration", null=True, blank=True
    )
    error_message = models.CharField("ErrorMessage", max_length=255, null=True, blank=True)
    exit_global_rule = models.ForeignKey(
        ActionCadenceRule,
        verbose_name="ExitGlobalRuleId",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Derived by the database from State, so nothing can set it on its own.
    is_tracker_active = models.GeneratedField(
        expression=models.Case(
            models.When(state__in=ACTIVE_STATES, then=models.Value(True)),
            default=models.Value(False),
        ),
        output_field=models.BooleanField(),
        db_persist=True,
        verbose_name="IsTrackerActive",
    )
    last_completed_step = models.ForeignKey(
        "ActionCadenceStepTracker",
        verbose_name="LastCompletedStepId",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # OwnerId is polymorphic (User or Queue): one integer column per referenced object.
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="OwnerId (User)",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_trackers",
        db_index=False,  # tracker_owner_state (owner_user, state) leads with it
    )
    owner_queue = models.ForeignKey(
        "sharing.Group",
        verbose_name="OwnerId (Queue)",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_trackers",
    )
    related_to_attribution_type = models.CharField(
        "RelatedToAttributionType",
        max_length=30,
        choices=RelatedToAttributionType.choices,
        null=True,
        blank=True,
    )
    related_opportunity = models.ForeignKey(
        Opportunity,
        verbose_name="RelatedToId (Opportunity)",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cadence_trackers",
    )
    related_invoice = models.ForeignKey(
        Invoice,
        verbose_name="RelatedToId (Invoice)",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cadence_trackers",
    )
    scheduled_resume_date_time = models.DateTimeField(
        "ScheduledResumeDateTime", null=True, blank=True
    )
    state = models.CharField(
        "State", max_length=20, choices=TrackerState.choices, default=TrackerState.INITIALIZING
    )
    target_lead = models.ForeignKey(
        Lead,
        verbose_name="TargetId (Lead)",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cadence_trackers",
    )
    target_contact = models.ForeignKey(
        Contact,
        verbose_name="TargetId (Contact)",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cadence_trackers",
    )

    # Not Salesforce fields: what a tracker in Processing returns to if its job fails,
    # and the job that put it there.
    prior_state = models.CharField(max_length=20, null=True, blank=True, editable=False)
    bulk_job = models.ForeignKey(
        "BulkJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="trackers"
    )

    objects = LiveTrackerManager()
    all_objects = TrackerQuerySet.as_manager()

    class Meta:
        base_manager_name = "all_objects"
        default_manager_name = "objects"
        verbose_name = "action cadence tracker"
        permissions = [
            ("view_all_trackers", "View all action cadence trackers"),
            ("modify_all_trackers", "Modify all action cadence trackers"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=_in("state", TrackerState, False), name="tracker_state_valid"
            ),
            models.CheckConstraint(
                condition=_in("completion_reason", CompletionReason),
                name="tracker_completion_reason_valid",
            ),
            models.CheckConstraint(
                condition=_in("related_to_attribution_type", RelatedToAttributionType),
                name="tracker_attribution_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(state="Complete", completion_reason__isnull=False)
                | (~Q(state="Complete") & Q(completion_reason__isnull=True)),
                name="tracker_complete_iff_completion_reason",
            ),
            models.CheckConstraint(
                condition=Q(completion_disposition__isnull=True) | Q(state="Complete"),
                name="tracker_disposition_only_when_complete",
            ),
            models.CheckConstraint(
                # Spelled out with isnull: a CHECK that evaluates to NULL passes, so
                # `completion_reason = 'AutomaticallyExited'` alone would let NULL through.
                condition=Q(
                    completion_reason__isnull=False,
                    completion_reason="AutomaticallyExited",
                    exit_global_rule__isnull=False,
                )
                | (
                    Q(exit_global_rule__isnull=True)
                    & (
                        Q(completion_reason__isnull=True)
                        | ~Q(completion_reason="AutomaticallyExited")
                    )
                ),
                name="tracker_exit_rule_iff_automatically_exited",
            ),
            models.CheckConstraint(
                condition=Q(daisy_chain_iteration__isnull=True)
                | Q(daisy_chain_iteration__gte=1, daisy_chain_iteration__lte=10),
                name="tracker_daisy_chain_iteration_1_to_10",
            ),
            models.CheckConstraint(
                condition=Q(owner_user__isnull=False, owner_queue__isnull=True)
                | Q(owner_user__isnull=True, owner_queue__isnull=False),
                name="tracker_exactly_one_owner",
            ),
            models.CheckConstraint(
                condition=_at_most_one("target_lead", "target_contact"),
                name="tracker_at_most_one_target",
            ),
            models.CheckConstraint(
                condition=_at_most_one("related_opportunity", "related_invoice"),
                name="tracker_at_most_one_related_to",
            ),
            models.CheckConstraint(
                condition=Q(related_to_attribution_type__isnull=True)
                | Q(related_opportunity__isnull=False)
                | Q(related_invoice__isnull=False),
                name="tracker_attribution_needs_related_to",
            ),
            models.CheckConstraint(
                condition=Q(state="Processing", prior_state__isnull=False)
                | (~Q(state="Processing") & Q(prior_state__isnull=True)),
                name="tracker_prior_state_iff_processing",
            ),
            models.UniqueConstraint(
                fields=["target_lead"],
                condition=Q(state__in=ACTIVE_STATES, is_deleted=False, target_lead__isnull=False),
                name="tracker_one_active_per_lead",
            ),
            models.UniqueConstraint(
                fields=["target_contact"],
                condition=Q(
                    state__in=ACTIVE_STATES, is_deleted=False, target_contact__isnull=False
                ),
                name="tracker_one_active_per_contact",
            ),
        ]
        indexes = [
            models.Index(fields=["action_cadence", "state"], name="tracker_cadence_state"),
            models.Index(fields=["owner_user", "state"], name="tracker_owner_state"),
            models.Index(fields=["system_modstamp"], name="tracker_modstamp"),
            # Lists sort by LastModifiedDate then Id (newest first): a page reads the top.
            models.Index(fields=["last_modified_date", "id"], name="tracker_modified_id"),
            models.Index(
                fields=["scheduled_resume_date_time"],
                condition=Q(scheduled_resume_date_time__isnull=False),
                name="tracker_scheduled_resume",
            ),
            # Partial on live rows: every live query says NOT is_deleted, which SQLite
            # can match only against an index's own WHERE (a NOT is no index term).
            # The Overview's counts by (cadence, State), and SOQL's GROUP BY State.
            models.Index(
                # The Overview's counts by (cadence, State) from the index alone, and the
                # list filtered by cadence and State in its default order (SystemModstamp,
                # Id) without walking the whole modstamp index: a cadence with no Running
                # trackers took 2.3 s for a rep at 1,000,000 on PostgreSQL.
                fields=["action_cadence", "state", "system_modstamp", "id"],
                condition=Q(is_deleted=False),
                name="tracker_live_cadence_state",
            ),
            # The period's completions by (cadence, CompletionReason, CompletionDisposition),
            # and COUNTs by State (SOQL's totalSize, GROUP BY State). It replaces
            # tracker_state_reason, which SQLite preferred for State lookups and then read
            # every row for is_deleted (0.7 s instead of 0.13 s at 1M).
            models.Index(
                fields=[
                    "state",
                    "last_modified_date",
                    "action_cadence",
                    "completion_reason",
                    "completion_disposition",
                ],
                condition=Q(is_deleted=False),
                name="tracker_live_completions",
            ),
            # The API's default order (newest first) and the list's (last changed first).
            models.Index(
                fields=["created_date", "id"],
                condition=Q(is_deleted=False),
                name="tracker_live_created",
            ),
            models.Index(
                fields=["system_modstamp", "id"],
                condition=Q(is_deleted=False),
                name="tracker_live_modstamp",
            ),
        ]

    @property
    def target(self) -> Lead | Contact | None:
        return self.target_lead or self.target_contact

    @property
    def owner(self) -> models.Model:
        return self.owner_user or self.owner_queue

    @property
    def related_to(self) -> Opportunity | Invoice | None:
        return self.related_opportunity or self.related_invoice

    @property
    def is_active(self) -> bool:
        """IsTrackerActive computed from the in-memory State (the column may be stale)."""
        return self.state in ACTIVE_STATES


class ActionCadenceStepTracker(SObject):
    KEY_PREFIX = "7CU"

    action_cadence_tracker = models.ForeignKey(
        ActionCadenceTracker,
        verbose_name="ActionCadenceTrackerId",
        on_delete=models.CASCADE,
        related_name="step_trackers",
    )
    action_cadence_step = models.ForeignKey(
        ActionCadenceStep,
        verbose_name="ActionCadenceStepId",
        on_delete=models.PROTECT,
        related_name="step_trackers",
    )
    action_cadence = models.ForeignKey(
        ActionCadence, verbose_name="ActionCadenceId", on_delete=models.PROTECT, related_name="+"
    )
    target_lead = models.ForeignKey(
        Lead,
        verbose_name="TargetId (Lead)",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    target_contact = models.ForeignKey(
        Contact,
        verbose_name="TargetId (Contact)",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    step_title = models.CharField("StepTitle", max_length=255, blank=True)
    step_type = models.CharField("StepType", max_length=20, choices=StepType.choices)
    state = models.CharField("State", max_length=20, choices=StepTrackerState.choices)
    completion_reason = models.CharField(
        "CompletionReason",
        max_length=30,
        choices=StepTrackerCompletionReason.choices,
        null=True,
        blank=True,
    )
    due_date_time = models.DateTimeField("DueDateTime", null=True, blank=True)
    completion_date = models.DateTimeField("CompletionDate", null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="CompletedById",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["created_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=_in("state", StepTrackerState, False), name="steptracker_state_valid"
            ),
            models.CheckConstraint(
                condition=_in("completion_reason", StepTrackerCompletionReason),
                name="steptracker_completion_reason_valid",
            ),
            models.UniqueConstraint(
                fields=["action_cadence_tracker"],
                condition=Q(state__in=OPEN_STEP_STATES),
                name="steptracker_one_open_per_tracker",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step_title or self.step_type} ({self.state})"


class ActionCadenceTrackerChangeEvent(models.Model):
    """One row per create/update/delete/undelete of a tracker, written in the same
    transaction as the change (a transactional outbox). ``replay_id`` only grows."""

    replay_id = models.BigAutoField(primary_key=True)
    tracker = models.ForeignKey(
        ActionCadenceTracker,
        on_delete=models.CASCADE,
        related_name="change_events",
        db_index=False,  # changeevent_tracker (tracker, replay_id) leads with it
    )
    record_id = models.CharField(max_length=18, db_index=True)
    change_type = models.CharField(max_length=10, choices=ChangeType.choices)
    changed_fields = models.JSONField(default=list)
    values = models.JSONField(default=dict)
    commit_timestamp = models.BigIntegerField(help_text="Epoch milliseconds")
    commit_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    commit_user_sf_id = models.CharField(max_length=18, blank=True)
    # changeevent_sequence_unique (transaction_key, sequence_number) leads with it.
    transaction_key = models.CharField(max_length=36, db_index=False)
    sequence_number = models.PositiveIntegerField()
    change_origin = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["replay_id"]
        verbose_name = "tracker change event"
        constraints = [
            models.CheckConstraint(
                condition=Q(change_type__in=values(ChangeType)), name="changeevent_type_valid"
            ),
            models.UniqueConstraint(
                fields=["transaction_key", "sequence_number"], name="changeevent_sequence_unique"
            ),
        ]
        indexes = [models.Index(fields=["tracker", "replay_id"], name="changeevent_tracker")]

    ENTITY_NAME = "ActionCadenceTracker"

    def __str__(self) -> str:
        return f"{self.change_type} {self.record_id} #{self.replay_id}"

    def header(self) -> dict:
        """The ChangeEventHeader as Salesforce shapes it."""
        return {
            "entityName": self.ENTITY_NAME,
            "recordIds": [self.record_id],
            "changeType": self.change_type,
            "changedFields": self.changed_fields if self.change_type == ChangeType.UPDATE else [],
            "commitTimestamp": self.commit_timestamp,
            "commitUser": self.commit_user_sf_id,
            "transactionKey": self.transaction_key,
            "sequenceNumber": self.sequence_number,
            "changeOrigin": self.change_origin,
        }


class BulkJob(models.Model):
    """Asynchronous work over many trackers: they sit in Processing until it finishes."""

    action = models.CharField(max_length=10, choices=BulkAction.choices)
    status = models.CharField(
        max_length=10, choices=BulkJobStatus.choices, default=BulkJobStatus.QUEUED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    completion_disposition = models.CharField(max_length=255, null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written with every finished chunk: a job that stops beating is presumed dead.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of {self.total} trackers ({self.status})"

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed


class DeletedTrackerManager(models.Manager.from_queryset(TrackerQuerySet)):
    def get_queryset(self) -> TrackerQuerySet:
        return super().get_queryset().filter(is_deleted=True)


class RecycleBinTracker(ActionCadenceTracker):
    """Soft-deleted trackers, for the admin's recycle bin (restore or wait for the purge)."""

    objects = DeletedTrackerManager()

    class Meta:
        proxy = True
        verbose_name = "recycle bin tracker"
        verbose_name_plural = "recycle bin"
