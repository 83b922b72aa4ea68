"""The one visibility chokepoint for trackers.

``visible_q(user, level)`` is the filter every tracker queryset goes through
(``ActionCadenceTracker.objects.visible_to(user, level)``); ``access_level``
and ``explain_access`` answer for one record from the same grants. The filter
compares integer foreign keys against a few small id sets and one share
subquery, so it never checks rows one by one.

Effective access (SPEC 3) is the highest of: All as owner, administrator or a
user in a role above the owner's; Edit as a member of the owning queue; the
org-wide default; every share reaching the user directly, through groups, or
through a subordinate (their direct shares, and their groups that include
bosses). Levels, lowest first: read < edit < all.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Case, IntegerField, Q, Value, When

LEVELS = ("read", "edit", "all")
_RANK = {"read": 1, "edit": 2, "all": 3}
OWD_RANK = {"Private": 0, "Read": 1, "Edit": 2}
SHARE_LEVEL_RANK = {"Read": 1, "Edit": 2, "All": 3}

VIEW_ALL_PERMISSION = "trackers.view_all_trackers"
MODIFY_ALL_PERMISSION = "trackers.modify_all_trackers"


def rank(level: str | None) -> int:
    return _RANK.get((level or "").lower(), 0)


def _check_level(level: str) -> None:
    if level not in _RANK:
        raise ValueError(f"Unknown access level {level!r}; expected one of {LEVELS}.")


def _is_user(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.is_active


def admin_level(user: Any) -> int:
    """What superusers and the view-all / modify-all permissions grant on every tracker."""
    if user.is_superuser or user.has_perm(MODIFY_ALL_PERMISSION):
        return rank("all")
    if user.has_perm(VIEW_ALL_PERMISSION):
        return rank("read")
    return 0


def org_default() -> str:
    from sharing.models import Organization

    return Organization.get().tracker_default_access


def _org_state() -> tuple[str, Any]:
    """The org-wide default and the current org graph, for one query."""
    from sharing.groups import current_graph
    from sharing.models import Organization

    org = Organization.get()
    return org.tracker_default_access, lambda: current_graph(org.sharing_version)


def _share_levels(level: str) -> list[str]:
    return [name for name, value in SHARE_LEVEL_RANK.items() if value >= rank(level)]


def visible_q(user: Any, level: str = "read") -> Q:
    """A filter on ActionCadenceTracker: the records ``user`` has at least ``level`` on."""
    _check_level(level)
    if not _is_user(user):
        return Q(pk__in=[])
    if admin_level(user) >= rank(level):
        return Q()
    return _visible_q(user, level, *_org_state())


def _visible_q(user: Any, level: str, default: str, graph_of: Any) -> Q:
    from sharing.models import ActionCadenceTrackerShare
    from trackers.models import ActionCadenceTracker

    if OWD_RANK[default] >= rank(level):
        return Q()

    graph = graph_of()
    # The user and everyone below them in the hierarchy: their trackers, and what is
    # shared with them directly, reach the user.
    people = {user.pk} | graph.users_in_roles(graph.roles_below(user.role_id))
    groups, _via = graph.effective_groups(user)
    trackers = ActionCadenceTracker.all_objects
    # One id set, as a UNION of index-friendly parts: an OR across owner columns and a
    # share subquery would make the database test every tracker row.
    parts = [trackers.filter(owner_user_id__in=people).values("pk")]
    queues = groups & graph.queue_ids()
    if queues and rank(level) <= rank("edit"):
        parts.append(trackers.filter(owner_queue_id__in=queues).values("pk"))
    grantee = Q(user_id__in=people) | Q(group_id__in=groups) if groups else Q(user_id__in=people)
    parts.append(
        ActionCadenceTrackerShare.objects.filter(
            grantee, access_level__in=_share_levels(level)
        ).values("parent_id")
    )
    return Q(pk__in=parts[0].union(*parts[1:]))


def access_level(user: Any, tracker: Any) -> str | None:
    """The highest level ``user`` has on ``tracker``, or None if they cannot read it.

    Computed from the same filters as ``visible_to`` in one query, so the two can
    never disagree.
    """
    from trackers.models import ActionCadenceTracker

    if not _is_user(user):
        return None
    if tracker.owner_user_id == user.pk:  # the commonest case: a rep acting on their own
        return "all"
    default, graph_of = _org_state()
    fixed = max(admin_level(user), OWD_RANK[default])
    if fixed == rank("all"):
        return "all"
    # Only levels above what the admin permission or the org-wide default already
    # grant need the query (for those, visible_q is the empty, always-true filter).
    cases = [
        When(_visible_q(user, name, default, graph_of), then=Value(rank(name)))
        for name in ("all", "edit", "read")
        if rank(name) > fixed
    ]
    found = (
        ActionCadenceTracker.all_objects.filter(pk=tracker.pk)
        .annotate(level=Case(*cases, default=Value(0), output_field=IntegerField()))
        .values_list("level", flat=True)
        .first()
    )
    best = max(found or 0, fixed)
    return LEVELS[best - 1] if best else None


def explain_access(user: Any, tracker: Any) -> list[dict[str, str]]:
    """Every grant ``user`` holds on ``tracker`` and where it comes from."""
    from sharing.groups import OrgGraph
    from sharing.models import ActionCadenceTrackerShare, Group, User

    if not _is_user(user):
        return []
    grants: list[dict[str, str]] = []

    def grant(level: str, source: str, detail: str) -> None:
        grants.append({"level": level, "source": source, "detail": detail})

    if user.is_superuser:
        grant("All", "administrator", "superuser")
    elif user.has_perm(MODIFY_ALL_PERMISSION):
        grant("All", "administrator", "Modify All Trackers permission")
    elif user.has_perm(VIEW_ALL_PERMISSION):
        grant("Read", "administrator", "View All Trackers permission")
    owd = org_default()
    if OWD_RANK[owd] and not user.is_superuser:
        grant("Read" if owd == "Read" else "Edit", "org-wide default", f"Public {owd}")
    graph = OrgGraph()
    below = graph.roles_below(user.role_id)
    if tracker.owner_user_id == user.pk:
        grant("All", "owner", "owns the tracker")
    elif tracker.owner_user_id is not None:
        owner = User.objects.select_related("role").get(pk=tracker.owner_user_id)
        if owner.role_id in below:
            grant(
                "All",
                "role hierarchy",
                f"role {user.role.name} is above {owner.username}'s role {owner.role.name}",
            )
    groups, via = graph.effective_groups(user)
    if tracker.owner_queue_id in groups:
        queue = Group.objects.get(pk=tracker.owner_queue_id)
        how = (
            f" via subordinate {User.objects.get(pk=via[queue.pk]).username}"
            if queue.pk in via
            else ""
        )
        grant("Edit", "queue", f"member of queue {queue.name}{how}")
    below_users = set(User.objects.filter(role_id__in=below).values_list("pk", flat=True))
    shares = ActionCadenceTrackerShare.objects.filter(parent_id=tracker.pk).select_related(
        "user", "group", "rule"
    )
    for share in shares:
        if share.user_id == user.pk:
            reached = "shared with the user"
        elif share.user_id in below_users:
            reached = f"shared with subordinate {share.user.username} (role hierarchy)"
        elif share.group_id in groups:
            reached = f"shared with group {share.group.name}"
            if share.group_id in via:
                sub = User.objects.get(pk=via[share.group_id]).username
                reached += f" via subordinate {sub} (group includes bosses)"
        else:
            continue
        if share.row_cause == "Rule":
            grant(share.access_level, "sharing rule", f"rule {share.rule.name}: {reached}")
        else:
            grant(share.access_level, "manual share", reached)
    return grants
