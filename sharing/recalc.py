"""Keep Rule share rows exact.

A rule shares every tracker owned by a member of its source group with its
grantee. Recalculation compares the rows a rule should have with the rows it
has and applies only the difference, so it is idempotent and cheap when little
changed. Call ``recalculate_rules()`` after any change to rules, groups,
membership or roles; ``recalculate_for_trackers(ids)`` after trackers are
created or change owner. Large runs go through ``sharing.tasks``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from sharing.groups import OrgGraph
from sharing.models import ActionCadenceTrackerOwnerSharingRule as Rule
from sharing.models import ActionCadenceTrackerShare as Share
from sharing.models import RowCause

BATCH = 5000


def _grantee_fields(rule: Rule) -> dict:
    return {
        "user_id": rule.share_with_user_id,
        "group_id": rule.share_with_group_id,
        "access_level": rule.access_level,
    }


def _insert(rule: Rule, parent_ids: Iterable[int]) -> int:
    now = timezone.now()
    fields = _grantee_fields(rule)
    rows = [
        Share(
            parent_id=pk,
            row_cause=RowCause.RULE,
            rule_id=rule.pk,
            created_date=now,
            last_modified_date=now,
            system_modstamp=now,
            **fields,
        )
        for pk in parent_ids
    ]
    Share.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)


def recalculate_rule(rule: Rule, graph: OrgGraph | None = None) -> dict[str, int]:
    """Bring one rule's share rows to exactly what the rule grants now."""
    from trackers.models import ActionCadenceTracker

    graph = graph or OrgGraph()
    owners = graph.users_in(rule.group_id)
    with transaction.atomic():
        # Locks the rule so two recalculations of it take turns.
        Rule.objects.select_for_update().filter(pk=rule.pk).first()
        existing = Share.objects.filter(rule=rule)
        stale = existing.exclude(**_grantee_fields(rule)).update(
            **_grantee_fields(rule), system_modstamp=timezone.now()
        )
        desired = ActionCadenceTracker.all_objects.filter(owner_user_id__in=owners)
        removed, _ = existing.exclude(parent_id__in=desired.values("pk")).delete()
        missing = desired.exclude(pk__in=existing.values("parent_id")).values_list("pk", flat=True)
        added = _insert(rule, missing.iterator(chunk_size=BATCH))
    return {"added": added, "removed": removed, "updated": stale}


def recalculate_rules(rule_ids: Iterable[int] | None = None) -> dict[str, int]:
    """Recalculate the given rules (default: all). Rows of deleted rules go with them."""
    graph = OrgGraph()
    rules = Rule.objects.all() if rule_ids is None else Rule.objects.filter(pk__in=list(rule_ids))
    totals = {"added": 0, "removed": 0, "updated": 0}
    for rule in rules:
        for key, value in recalculate_rule(rule, graph).items():
            totals[key] += value
    return totals


def recalculate_for_trackers(tracker_ids: Iterable[int]) -> int:
    """After trackers are created or change owner: their Rule rows, exactly."""
    from trackers.models import ActionCadenceTracker

    ids = list(tracker_ids)
    if not ids:
        return 0
    rules = list(Rule.objects.all())
    if not rules and not Share.objects.filter(parent_id__in=ids, row_cause=RowCause.RULE).exists():
        return 0
    graph = OrgGraph()
    owners = dict(
        ActionCadenceTracker.all_objects.filter(pk__in=ids).values_list("pk", "owner_user_id")
    )
    changed = 0
    with transaction.atomic():
        for rule in rules:
            members = graph.users_in(rule.group_id)
            should = {pk for pk, owner in owners.items() if owner in members}
            has = set(
                Share.objects.filter(rule=rule, parent_id__in=ids).values_list(
                    "parent_id", flat=True
                )
            )
            gone = has - should
            if gone:
                changed += Share.objects.filter(rule=rule, parent_id__in=gone).delete()[0]
            changed += _insert(rule, sorted(should - has))
    return changed


def rebuild_from_scratch() -> int:
    """Delete every Rule row and recompute them all (the reference the tests compare to)."""
    with transaction.atomic():
        Share.objects.filter(row_cause=RowCause.RULE).delete()
        return recalculate_rules()["added"]
