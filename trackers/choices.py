"""Picklist values, exactly as the seed document prints them."""

from django.db import models


class TrackerState(models.TextChoices):
    COMPLETE = "Complete"
    ERROR = "Error"
    INITIALIZING = "Initializing"
    PAUSED = "Paused"
    PROCESSING = "Processing"
    RUNNING = "Running"


# IsTrackerActive is true for exactly these states; only they count against the org limit.
ACTIVE_STATES = (
    TrackerState.RUNNING,
    TrackerState.PAUSED,
    TrackerState.PROCESSING,
    TrackerState.INITIALIZING,
)


class CompletionReason(models.TextChoices):
    AUTOMATICALLY_EXITED = "AutomaticallyExited"
    AUTOMATICALLY_EXITED_DELETED_STEP = "AutomaticallyExitedDeletedStep"
    AUTOMATICALLY_EXITED_INVALID_PARENT_STEP = "AutomaticallyExitedInvalidParentStep"
    DAISY_CHAINED = "DaisyChained"
    LEAD_CONVERTED = "LeadConverted"
    MANUALLY_REMOVED = "ManuallyRemoved"
    # Reserved for future use by Salesforce: accepted on import, never set here.
    MANUALLY_REMOVED_NO_ACCESS = "ManuallyRemovedNoAccess"
    NO_MORE_STEPS = "NoMoreSteps"


class CompletionDisposition(models.TextChoices):
    """Not a restricted picklist: imports keep unknown values, people pick from these."""

    BAD_DATA = "Bad Data"
    CONTACT_LATER = "Contact Later"
    CUSTOMER_CONNECTED = "Customer Connected"
    CUSTOMER_ENGAGED = "Customer Engaged"
    DISQUALIFIED = "Disqualified"
    DUPLICATE = "Duplicate"
    NO_RESPONSE = "No Response"
    NOT_INTERESTED = "Not Interested"
    SUCCESS = "Success"


class RelatedToAttributionType(models.TextChoices):
    ACTIVATION = "Activation"
    COLLECTED = "Collected"
    COLLECTION_ADVANCEMENT = "Collection Advancement"
    MATURATION = "Maturation"


class CadenceState(models.TextChoices):
    DRAFT = "Draft"
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    DELETING = "Deleting"
    ERROR = "Error"


class CadenceType(models.TextChoices):
    STANDARD = "Standard"
    QUICK = "Quick"


class StepType(models.TextChoices):
    ROOT = "Root"
    SEND_AN_EMAIL = "SendAnEmail"
    AUTO_SEND_AN_EMAIL = "AutoSendAnEmail"
    MAKE_A_CALL = "MakeACall"
    CREATE_TASK = "CreateTask"
    WAIT = "Wait"
    BRANCH = "Branch"
    LISTENER_BRANCH = "ListenerBranch"
    LINKEDIN_CONNECTION = "LinkedInConnection"
    LINKEDIN_MAIL = "LinkedInMail"
    PLATFORM_SCREEN_FLOW = "PlatformScreenFlow"
    DAISY_CHAIN = "DaisyChain"


class RuleType(models.TextChoices):
    ROOT_STEP = "RootStep"
    BRANCH_STEP = "BranchStep"
    REPEATED_STEP = "RepeatedStep"
    SUB_ROOT_STEP = "SubRootStep"


class GlobalEventType(models.TextChoices):
    EMAIL_REPLY = "EmailReply"
    EMAIL_HARD_BOUNCE = "EmailHardBounce"
    EMAIL_SOFT_BOUNCE = "EmailSoftBounce"
    CALL_MEANINGFUL_CONNECT = "CallMeaningfulConnect"
    CALL_NOT_INTERESTED = "CallNotInterested"
    CALL_UNQUALIFIED = "CallUnqualified"
    CALL_LEFT_VOICEMAIL = "CallLeftVoicemail"
    CALL_CALL_BACK_LATER = "CallCallBackLater"


class StepTrackerState(models.TextChoices):
    ACTIVE = "Active"
    CANCELLED = "Cancelled"
    COMPLETED = "Completed"
    ERROR = "Error"
    IN_PROGRESS = "InProgress"
    PAUSED = "Paused"
    QUEUED = "Queued"
    SCHEDULED = "Scheduled"


# A tracker's current step is in one of these; at most one per tracker.
OPEN_STEP_STATES = (
    StepTrackerState.ACTIVE,
    StepTrackerState.IN_PROGRESS,
    StepTrackerState.PAUSED,
    StepTrackerState.QUEUED,
    StepTrackerState.SCHEDULED,
)


class StepTrackerCompletionReason(models.TextChoices):
    AUTOMATICALLY_COMPLETED = "AutomaticallyCompleted"
    AUTOMATICALLY_EXITED = "AutomaticallyExited"
    MANUALLY_COMPLETED = "ManuallyCompleted"
    MANUALLY_SKIPPED = "ManuallySkipped"


class ChangeType(models.TextChoices):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    UNDELETE = "UNDELETE"


class BulkAction(models.TextChoices):
    REMOVE = "remove", "Remove from cadence"
    PAUSE = "pause", "Pause"
    RESUME = "resume", "Resume"


class BulkJobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def values(choices: type[models.TextChoices]) -> list[str]:
    return [str(choice.value) for choice in choices]
