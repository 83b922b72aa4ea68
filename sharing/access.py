"""The one visibility chokepoint for trackers.

``visible_q(user, level)`` is the filter every tracker queryset goes through
(``ActionCadenceTracker.objects.visible_to(user, level)``); ``access_level``
answers the same question for one record. Both compare integer foreign keys
only, so the filter is a few small id subqueries, never a per-row check.

Levels, lowest first: read < edit < all.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

LEVELS = ("read", "edit", "all")
_RANK = {"read": 1, "edit": 2, "all": 3}
OWD_RANK = {"Private": 0, "Read": 1, "Edit": 2}

VIEW_ALL_PERMISSION = "trackers.view_all_trackers"
MODIFY_ALL_PERMISSION = "trackers.modify_all_trackers"


def rank(level: str | None) -> int:
    return _RANK.get(level or "", 0)


def _check_level(level: str) -> None:
    if level not in _RANK:
        raise ValueError(f"Unknown access level {level!r}; expected one of {LEVELS}.")


def is_unrestricted(user: Any, level: str) -> bool:
    """Superusers and holders of view-all / modify-all skip the visibility filter."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if user.has_perm(MODIFY_ALL_PERMISSION):
        return True
    return level == "read" and user.has_perm(VIEW_ALL_PERMISSION)


def subordinate_role_ids(role_id: int | None) -> set[int]:
    """Every role below ``role_id`` (not itself). Roles are few; one query."""
    if role_id is None:
        return set()
    from sharing.models import UserRole

    children: dict[int | None, list[int]] = {}
    for pk, parent in UserRole.objects.values_list("pk", "parent_role_id"):
        children.setdefault(parent, []).append(pk)
    found: set[int] = set()
    stack = list(children.get(role_id, []))
    while stack:
        pk = stack.pop()
        if pk not in found:
            found.add(pk)
            stack.extend(children.get(pk, []))
    return found


def _queue_ids(user: Any) -> list[int]:
    from sharing.models import Group

    return list(
        Group.objects.filter(type=Group.Type.QUEUE, members__member_user=user).values_list(
            "pk", flat=True
        )
    )


def org_default() -> str:
    from sharing.models import Organization

    return Organization.get().tracker_default_access


def visible_q(user: Any, level: str = "read") -> Q:
    """A filter on ActionCadenceTracker: the records ``user`` has at least ``level`` on."""
    _check_level(level)
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    if is_unrestricted(user, level):
        return Q()
    if OWD_RANK[org_default()] >= rank(level):
        return Q()
    condition = Q(owner_user_id=user.pk)
    below = subordinate_role_ids(user.role_id)
    if below:
        condition |= Q(owner_user__role_id__in=below)
    if rank(level) <= rank("edit"):
        queues = _queue_ids(user)
        if queues:
            condition |= Q(owner_queue_id__in=queues)
    return condition


def access_level(user: Any, tracker: Any) -> str | None:
    """The highest level ``user`` has on ``tracker``, or None if they cannot see it."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser or user.has_perm(MODIFY_ALL_PERMISSION):
        return "all"
    best = 0
    if tracker.owner_user_id == user.pk:
        best = rank("all")
    elif tracker.owner_user_id is not None and user.role_id is not None:
        owner_role = (
            type(user)
            .objects.filter(pk=tracker.owner_user_id)
            .values_list("role_id", flat=True)
            .first()
        )
        if owner_role in subordinate_role_ids(user.role_id):
            best = rank("all")
    if tracker.owner_queue_id is not None and tracker.owner_queue_id in _queue_ids(user):
        best = max(best, rank("edit"))
    best = max(best, OWD_RANK[org_default()])
    if user.has_perm(VIEW_ALL_PERMISSION):
        best = max(best, rank("read"))
    return LEVELS[best - 1] if best else None
