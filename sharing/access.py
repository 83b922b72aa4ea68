"""The one visibility chokepoint for trackers.

``visible_q(user, level)`` is the filter every tracker queryset goes through
(``ActionCadenceTracker.objects.visible_to(user, level)``); ``access_level``
and ``explain_access`` answer for one record from the same grants. The filter
compares integer foreign keys against a few small id sets and one share
subquery, in one of two shapes chosen by how much the user can see:

- **narrow** (fewer than ``WIDE_AT`` visible trackers): the visible ids as one
  UNION of index lookups, so the database collects the small set and sorts it;
- **wide**: the same conditions as a per-row test the indexes cannot serve, so
  the database walks the page's sort order and stops after one page, as it
  does for an administrator. Collecting 50,000 ids of a queue to show 50 rows
  is what this avoids; walking the whole table for a rep who sees 500 is what
  the narrow shape avoids.

Counting is different: a count or an aggregate reads every visible row (up to
a cap), so it cannot stop after a page, and for it collecting the set wins up to
``COUNT_WIDE_AT`` visible trackers (a rep's "1,000+" over the wide shape walked
a million rows to find 1,001 of 7,000). ``purpose="count"`` asks for that.

The shape is chosen by a bounded count (at most the threshold asked for, per part),
remembered per user, level and threshold with the org graph for a few minutes:
a stale answer costs speed, never correctness, since both shapes select the
same rows.

Effective access (SPEC 3) is the highest of: All as owner, administrator or a
user in a role above the owner's; Edit as a member of the owning queue; the
org-wide default; every share reaching the user directly, through groups, or
through a subordinate (their direct shares, and their groups that include
bosses). Levels, lowest first: read < edit < all.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.lookups import In, IsNull

LEVELS = ("read", "edit", "all")
_RANK = {"read": 1, "edit": 2, "all": 3}
OWD_RANK = {"Private": 0, "Read": 1, "Edit": 2}
SHARE_LEVEL_RANK = {"Read": 1, "Edit": 2, "All": 3}

# From this many visible trackers on, walking a page's sort order beats collecting
# the visible set (at 1,000,000 trackers the two cost the same near sqrt(50 * N)).
WIDE_AT = 5000
# For counts capped at 1,001 (the lists' "1,000+") and aggregates: collecting v ids
# costs about v, finding 1,001 of them along the table about N * 1,001 / v rows, even
# at sqrt(1,001 * N), about 32,000 at a million trackers.
COUNT_WIDE_AT = 32_000
PURPOSES = ("page", "count")
# In the wide shape, the share test runs per row (rather than from a hash of every share
# reaching the user) for users above more than this share of the org's users.
PER_ROW_SHARE_TEST_AT = 0.5
# How long a user's narrow/wide answer is reused (it is also dropped with the org
# graph whenever sharing changes).
SHAPE_SECONDS = 300

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


def visible_q(user: Any, level: str = "read", purpose: str = "page") -> Q:
    """A filter on ActionCadenceTracker: the records ``user`` has at least ``level`` on.

    ``purpose`` only picks the shape (the rows are the same): ``"page"`` for a query
    that walks a sort order to a LIMIT, ``"count"`` for counts and aggregates.
    """
    (q,) = visible_qs(user, level, (purpose,))
    return q


def visible_qs(user: Any, level: str, purposes: tuple[str, ...]) -> tuple[Q, ...]:
    """``visible_q`` for several purposes from one read of the org (a list page and
    its count)."""
    _check_level(level)
    for purpose in purposes:
        if purpose not in PURPOSES:
            raise ValueError(f"Unknown purpose {purpose!r}; expected one of {PURPOSES}.")
    if not _is_user(user):
        return tuple(Q(pk__in=[]) for _ in purposes)
    if admin_level(user) >= rank(level):
        return tuple(Q() for _ in purposes)
    default, graph_of = _org_state()
    return tuple(_visible_q(user, level, default, graph_of, purpose=p) for p in purposes)


def _visible_q(
    user: Any, level: str, default: str, graph_of: Any, *, purpose: str | None = "page"
) -> Q:
    """``purpose=None`` always gives the narrow shape: for a test of one record, where
    the shape makes no difference, without the count that chooses it."""
    from sharing.models import ActionCadenceTrackerShare
    from trackers.models import ActionCadenceTracker

    if OWD_RANK[default] >= rank(level):
        return Q()

    graph = graph_of()
    # The user and everyone below them in the hierarchy: their trackers, and what is
    # shared with them directly, reach the user.
    people = {user.pk} | graph.users_in_roles(graph.roles_below(user.role_id))
    groups, _via = graph.effective_groups(user)
    queues = groups & graph.queue_ids() if rank(level) <= rank("edit") else set()
    grantee = Q(user_id__in=people) | Q(group_id__in=groups) if groups else Q(user_id__in=people)
    shares = ActionCadenceTrackerShare.objects.filter(grantee)
    if rank(level) > rank("read"):
        # Every share grants Read: for reading, the (grantee, parent) indexes answer alone.
        shares = shares.filter(access_level__in=_share_levels(level))
    shares = shares.values("parent_id")
    trackers = ActionCadenceTracker.all_objects
    parts = [trackers.filter(owner_user_id__in=people).values("pk")]
    if queues:
        parts.append(trackers.filter(owner_queue_id__in=queues).values("pk"))
    parts.append(shares)
    if purpose is not None and _is_wide(graph, user, level, parts, purpose):
        # The share test per row, through the index on ParentId (a few rows at most for
        # any tracker). As an IN over the user's shares it was a hash of all of them,
        # and where that hash outgrew work_mem PostgreSQL scanned a materialized list of
        # 290,000 shares for every row instead (100 s for one count at 1,000,000).
        shared = shares.filter(parent_id=OuterRef("pk"))
        if _per_row_share_test(graph, people):
            # Someone above most of the org owns most of what they see through the
            # hierarchy: the share test runs for the few rows the owner test misses.
            # PostgreSQL would instead hash every share reaching them first (261,512 for
            # a VP at 1,000,000 trackers, 240 ms); a scalar subquery is never hashed.
            share_test = Q(IsNull(Subquery(shared[:1]), False))
        else:
            share_test = Q(Exists(shared))
        wide = Q(In(_unindexed("owner_user_id"), sorted(people))) | share_test
        if queues:
            wide |= Q(In(_unindexed("owner_queue_id"), sorted(queues)))
        return wide
    # One id set, as a UNION of index-friendly parts: an OR across owner columns and a
    # share subquery would make the database test every tracker row.
    return Q(pk__in=parts[0].union(*parts[1:]))


def _unindexed(column: str) -> ExpressionWrapper:
    """``column + 0``: the same value, but no index on ``column`` can serve a test on
    it, so the database tests rows as it walks the sort order instead of collecting
    every match first."""
    return ExpressionWrapper(F(column) + Value(0), output_field=BigIntegerField())


def _is_wide(graph: Any, user: Any, level: str, parts: list[Any], purpose: str) -> bool:
    """Whether ``user`` sees at least WIDE_AT (COUNT_WIDE_AT for a count) trackers at
    ``level`` (an upper bound: the parts may overlap), counting no further than that in
    each part; remembered with the org graph for SHAPE_SECONDS."""
    threshold = COUNT_WIDE_AT if purpose == "count" else WIDE_AT
    key = (user.pk, level, threshold)
    now = time.monotonic()
    known = graph.visible_shapes.get(key)
    if known is not None and now - known[1] < SHAPE_SECONDS:
        return known[0]
    counts, params = [], []
    for index, part in enumerate(parts):
        try:
            sql, part_params = part[:threshold].query.sql_with_params()
        except EmptyResultSet:  # a part that can match nothing (Django knows it unasked)
            continue
        counts.append(f"(SELECT COUNT(*) FROM ({sql}) bounded_{index})")
        params.extend(part_params)
    seen = 0
    if counts:
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + " + ".join(counts), params)
            (seen,) = cursor.fetchone()
    wide = seen >= threshold
    graph.visible_shapes[key] = (wide, now)
    return wide


def _per_row_share_test(graph: Any, people: set[int]) -> bool:
    """Whether the user's hierarchy (``people``: them and everyone below) holds more than
    PER_ROW_SHARE_TEST_AT of the users with a role."""
    return len(people) > max(1, PER_ROW_SHARE_TEST_AT * graph.users_with_a_role())


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
        When(_visible_q(user, name, default, graph_of, purpose=None), then=Value(rank(name)))
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
