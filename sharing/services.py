"""Sharing workflows: manual shares and sharing-rule changes.

Manual rows are the only share rows people create, change or delete, and
only with All access to the tracker (owner, a role above the owner, admins).
Rule rows belong to recalculation.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from sharing import access, recalc
from sharing.models import AccessLevel, Group, RowCause, User
from sharing.models import ActionCadenceTrackerOwnerSharingRule as Rule
from sharing.models import ActionCadenceTrackerShare as Share

logger = logging.getLogger(__name__)


class SharingError(Exception):
    code = "INSUFFICIENT_ACCESS_OR_READONLY"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


def _require_all(actor: Any, tracker: Any) -> None:
    level = access.access_level(actor, tracker)
    if level is None:
        raise SharingError("No such tracker.", code="NOT_FOUND")
    if level != "all":
        raise SharingError(
            "Only the owner, users above the owner in the role hierarchy and administrators "
            "can share this tracker."
        )


def share_tracker(tracker: Any, grantee: User | Group, level: str, *, actor: Any) -> Share:
    """Add (or change) a Manual share of ``tracker`` with a user or group."""
    if level not in (AccessLevel.READ, AccessLevel.EDIT):
        raise SharingError(
            f"Invalid AccessLevel {level!r} for a manual share; expected Read or Edit.",
            code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        )
    if isinstance(grantee, User) and grantee.pk == tracker.owner_user_id:
        raise SharingError(f"{grantee.username} owns this tracker already.", code="INVALID_FIELD")
    _require_all(actor, tracker)
    lookup = {"user": grantee} if isinstance(grantee, User) else {"group": grantee}
    with transaction.atomic():
        share = Share.objects.select_for_update().filter(
            parent=tracker, row_cause=RowCause.MANUAL, **lookup
        ).first() or Share(parent=tracker, row_cause=RowCause.MANUAL, **lookup)
        share.access_level = level
        share.stamp(actor)
        share.save()
    return share


def remove_share(share: Share, *, actor: Any) -> None:
    if share.row_cause != RowCause.MANUAL:
        raise SharingError(
            f"{share.get_row_cause_display()} rows are maintained by sharing recalculation and "
            "cannot be removed by hand.",
            code="INVALID_OPERATION",
        )
    _require_all(actor, share.parent)
    share.delete()


def manual_shares_visible_to(actor: Any):
    """Share rows of trackers the actor can read (the rows themselves are read-only
    unless the actor has All access on the tracker)."""
    from trackers.models import ActionCadenceTracker

    return Share.objects.filter(
        parent__in=ActionCadenceTracker.objects.visible_to(actor, "read").values("pk")
    )


def schedule_recalculation(rule_ids: list[int] | None = None) -> str:
    """Recalculate now when the work is small, else queue it for a worker.

    Returns "inline" or "queued" so callers can tell the user which happened.
    """
    from sharing.tasks import recalculate_sharing
    from trackers.models import ActionCadenceTracker
    from trackers.tasks import commits_with_the_database

    if not Rule.objects.exists():
        return "inline"
    threshold = settings.SHARING_INLINE_RECALC_MAX_TRACKERS
    if not ActionCadenceTracker.all_objects.all()[threshold : threshold + 1].exists():
        recalc.recalculate_rules(rule_ids)
        return "inline"
    if commits_with_the_database(recalculate_sharing):
        recalculate_sharing.enqueue(rule_ids)  # commits, or rolls back, with the change
        return "queued"

    # Redis: never before the change that asked for it is committed (Redis does not wait
    # for it). If Redis refuses, the rows are recalculated here, slowly but exactly:
    # a rule change whose rows were never written would grant or hide trackers wrongly
    # until the next change.
    def send() -> None:
        try:
            recalculate_sharing.enqueue(rule_ids)
        except Exception:
            logger.exception("Could not queue a sharing recalculation; running it here")
            recalc.recalculate_rules(rule_ids)

    # robust: the change is committed whatever happens here, so a failure of the
    # fallback too is logged rather than turned into an error page after the fact.
    transaction.on_commit(send, robust=True)
    return "queued"


def save_rule(rule: Rule, *, actor: Any) -> str:
    """Validate and save a sharing rule, then bring its rows up to date."""
    rule.full_clean()
    with transaction.atomic():
        rule.stamp(actor)
        rule.save()
        return schedule_recalculation([rule.pk])
