"""Registry declarations for the trackers app. ActionCadenceTracker is the seed's
15 fields, property for property."""

from cadence_site.registry import F, SObjectType, register
from trackers import models as m
from trackers.choices import (
    CadenceState,
    CadenceType,
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

READ_ONLY_CALLS = frozenset({"describeSObjects", "query", "retrieve", "getUpdated", "getDeleted"})

TRACKER = register(
    SObjectType(
        name="ActionCadenceTracker",
        model=m.ActionCadenceTracker,
        label="Action Cadence Tracker",
        label_plural="Action Cadence Trackers",
        calls=READ_ONLY_CALLS | {"delete"},
        fields=(
            F(
                "ActionCadenceId",
                "reference",
                "Filter Group Nillable Sort",
                attr="action_cadence",
                label="Action Cadence ID",
                to="ActionCadence",
                rel="ActionCadence",
            ),
            F(
                "CompletionDisposition",
                "picklist",
                "Filter Group Nillable Sort",
                attr="completion_disposition",
                label="Completion Disposition",
                length=255,
                picklist=values(CompletionDisposition),
            ),
            F(
                "CompletionReason",
                "picklist",
                "Filter Group Nillable Restricted Sort",
                attr="completion_reason",
                label="Completion Reason",
                length=255,
                picklist=values(CompletionReason),
            ),
            F(
                "CurrentStepId",
                "reference",
                "Filter Group Nillable Sort",
                attr="current_step",
                label="Current Step ID",
                to="ActionCadenceStepTracker",
                rel="CurrentStep",
            ),
            F(
                "DaisyChainIteration",
                "int",
                "Filter Group Nillable Sort",
                attr="daisy_chain_iteration",
                label="Daisy Chain Iteration",
            ),
            F(
                "ErrorMessage",
                "string",
                "Filter Group Nillable Sort",
                attr="error_message",
                label="Error Message",
                length=255,
            ),
            F(
                "ExitGlobalRuleId",
                "reference",
                "Filter Group Nillable Sort",
                attr="exit_global_rule",
                label="Exit Global Rule ID",
                to="ActionCadenceRule",
                rel="ExitGlobalRule",
            ),
            F(
                "IsTrackerActive",
                "boolean",
                "Defaulted Filter Group Sort",
                attr="is_tracker_active",
                label="Is Tracker Active",
            ),
            F(
                "LastCompletedStepId",
                "reference",
                "Filter Group Nillable Sort",
                attr="last_completed_step",
                label="Last Completed Step ID",
                to="ActionCadenceStepTracker",
                rel="LastCompletedStep",
            ),
            F(
                "OwnerId",
                "reference",
                "Filter Group Sort",
                label="Owner ID",
                to=("Group", "User"),
                rel="Owner",
                columns={"User": "owner_user", "Group": "owner_queue"},
            ),
            F(
                "RelatedToAttributionType",
                "picklist",
                "Filter Group Nillable Restricted Sort",
                attr="related_to_attribution_type",
                label="Related To Attribution Type",
                length=255,
                picklist=values(RelatedToAttributionType),
            ),
            F(
                "RelatedToId",
                "reference",
                "Filter Group Nillable Sort",
                label="Related To ID",
                to=("Opportunity", "Invoice"),
                rel="RelatedTo",
                columns={"Opportunity": "related_opportunity", "Invoice": "related_invoice"},
            ),
            F(
                "ScheduledResumeDateTime",
                "datetime",
                "Filter Nillable Sort",
                attr="scheduled_resume_date_time",
                label="Scheduled Resume Date Time",
            ),
            F(
                "State",
                "picklist",
                "Filter Group Restricted Sort",
                attr="state",
                label="State",
                length=255,
                picklist=values(TrackerState),
            ),
            F(
                "TargetId",
                "reference",
                "Filter Group Nillable Sort",
                label="Target ID",
                to=("Contact", "Lead"),
                rel="Target",
                columns={"Contact": "target_contact", "Lead": "target_lead"},
            ),
        ),
    )
)

register(
    SObjectType(
        name="ActionCadence",
        model=m.ActionCadence,
        label="Action Cadence",
        label_plural="Action Cadences",
        calls=READ_ONLY_CALLS,
        fields=(
            F("Name", "string", "Filter Group Sort", attr="name", length=80),
            F(
                "State",
                "picklist",
                "Filter Group Restricted Sort",
                attr="state",
                length=255,
                picklist=values(CadenceState),
            ),
            F(
                "Type",
                "picklist",
                "Filter Group Restricted Sort",
                attr="type",
                length=255,
                picklist=values(CadenceType),
            ),
            F(
                "OwnerId",
                "reference",
                "Filter Group Sort",
                attr="owner",
                label="Owner ID",
                to="User",
                rel="Owner",
            ),
            F("Description", "textarea", "Nillable", attr="description", length=32000),
            F("ActivatedDate", "datetime", "Filter Nillable Sort", attr="activated_date"),
        ),
    )
)

register(
    SObjectType(
        name="ActionCadenceStep",
        model=m.ActionCadenceStep,
        label="Action Cadence Step",
        label_plural="Action Cadence Steps",
        calls=READ_ONLY_CALLS,
        fields=(
            F(
                "ActionCadenceId",
                "reference",
                "Filter Group Sort",
                attr="action_cadence",
                to="ActionCadence",
                rel="ActionCadence",
            ),
            F("StepName", "string", "Filter Group Sort", attr="step_name", length=80),
            F("StepTitle", "string", "Filter Group Nillable Sort", attr="step_title", length=255),
            F(
                "Type",
                "picklist",
                "Filter Group Restricted Sort",
                attr="type",
                length=255,
                picklist=values(StepType),
            ),
            F(
                "ParentStepName",
                "string",
                "Filter Group Nillable Sort",
                attr="parent_step_name",
                length=80,
            ),
            F(
                "WaitTimeInSeconds",
                "int",
                "Filter Group Nillable Sort",
                attr="wait_time_in_seconds",
            ),
            F(
                "ChainedCadenceId",
                "reference",
                "Filter Group Nillable Sort",
                attr="chained_cadence",
                to="ActionCadence",
                rel="ChainedCadence",
            ),
        ),
    )
)

register(
    SObjectType(
        name="ActionCadenceRule",
        model=m.ActionCadenceRule,
        label="Action Cadence Rule",
        label_plural="Action Cadence Rules",
        calls=READ_ONLY_CALLS,
        fields=(
            F(
                "ActionCadenceId",
                "reference",
                "Filter Group Sort",
                attr="action_cadence",
                to="ActionCadence",
                rel="ActionCadence",
            ),
            F("RuleName", "string", "Filter Group Sort", attr="rule_name", length=80),
            F(
                "RuleType",
                "picklist",
                "Filter Group Restricted Sort",
                attr="rule_type",
                length=255,
                picklist=values(RuleType),
            ),
            F(
                "GlobalEventType",
                "picklist",
                "Filter Group Nillable Restricted Sort",
                attr="global_event_type",
                length=255,
                picklist=values(GlobalEventType),
            ),
        ),
    )
)

register(
    SObjectType(
        name="ActionCadenceStepTracker",
        model=m.ActionCadenceStepTracker,
        label="Action Cadence Step Tracker",
        label_plural="Action Cadence Step Trackers",
        calls=READ_ONLY_CALLS,
        fields=(
            F(
                "ActionCadenceTrackerId",
                "reference",
                "Filter Group Sort",
                attr="action_cadence_tracker",
                to="ActionCadenceTracker",
                rel="ActionCadenceTracker",
            ),
            F(
                "ActionCadenceStepId",
                "reference",
                "Filter Group Sort",
                attr="action_cadence_step",
                to="ActionCadenceStep",
                rel="ActionCadenceStep",
            ),
            F(
                "ActionCadenceId",
                "reference",
                "Filter Group Sort",
                attr="action_cadence",
                to="ActionCadence",
                rel="ActionCadence",
            ),
            F(
                "TargetId",
                "reference",
                "Filter Group Nillable Sort",
                to=("Contact", "Lead"),
                rel="Target",
                columns={"Contact": "target_contact", "Lead": "target_lead"},
            ),
            F("StepTitle", "string", "Filter Group Nillable Sort", attr="step_title", length=255),
            F(
                "StepType",
                "picklist",
                "Filter Group Restricted Sort",
                attr="step_type",
                length=255,
                picklist=values(StepType),
            ),
            F(
                "State",
                "picklist",
                "Filter Group Restricted Sort",
                attr="state",
                length=255,
                picklist=values(StepTrackerState),
            ),
            F(
                "CompletionReason",
                "picklist",
                "Filter Group Nillable Restricted Sort",
                attr="completion_reason",
                length=255,
                picklist=values(StepTrackerCompletionReason),
            ),
            F("DueDateTime", "datetime", "Filter Nillable Sort", attr="due_date_time"),
            F("CompletionDate", "datetime", "Filter Nillable Sort", attr="completion_date"),
            F(
                "CompletedById",
                "reference",
                "Filter Group Nillable Sort",
                attr="completed_by",
                to="User",
                rel="CompletedBy",
            ),
        ),
    )
)

register(
    SObjectType(
        name="Lead",
        model=m.Lead,
        label="Lead",
        label_plural="Leads",
        fields=(
            F(
                "FirstName",
                "string",
                "Filter Group Nillable Sort Create Update",
                attr="first_name",
                length=40,
            ),
            F("LastName", "string", "Filter Group Sort Create Update", attr="last_name", length=80),
            F("Company", "string", "Filter Group Sort Create Update", attr="company", length=255),
            F(
                "Email",
                "email",
                "Filter Group Nillable Sort Create Update",
                attr="email",
                length=80,
            ),
            F("Status", "picklist", "Filter Group Sort Create Update", attr="status", length=255),
            F("IsConverted", "boolean", "Defaulted Filter Group Sort", attr="is_converted"),
        ),
    )
)

register(
    SObjectType(
        name="Contact",
        model=m.Contact,
        label="Contact",
        label_plural="Contacts",
        fields=(
            F(
                "FirstName",
                "string",
                "Filter Group Nillable Sort Create Update",
                attr="first_name",
                length=40,
            ),
            F("LastName", "string", "Filter Group Sort Create Update", attr="last_name", length=80),
            F(
                "Email",
                "email",
                "Filter Group Nillable Sort Create Update",
                attr="email",
                length=80,
            ),
            F(
                "Title",
                "string",
                "Filter Group Nillable Sort Create Update",
                attr="title",
                length=128,
            ),
        ),
    )
)

register(
    SObjectType(
        name="Opportunity",
        model=m.Opportunity,
        label="Opportunity",
        label_plural="Opportunities",
        fields=(
            F("Name", "string", "Filter Group Sort Create Update", attr="name", length=120),
            F(
                "StageName",
                "picklist",
                "Filter Group Sort Create Update",
                attr="stage_name",
                length=255,
            ),
            F("Amount", "currency", "Filter Nillable Sort Create Update", attr="amount"),
            F("CloseDate", "date", "Filter Group Sort Create Update", attr="close_date"),
        ),
    )
)

register(
    SObjectType(
        name="Invoice",
        model=m.Invoice,
        label="Invoice",
        label_plural="Invoices",
        fields=(
            F("DocumentNumber", "string", "Filter Group Sort", attr="document_number", length=255),
            F("Status", "picklist", "Filter Group Sort", attr="status", length=255),
            F("TotalAmount", "currency", "Filter Nillable Sort", attr="total_amount"),
        ),
    )
)
