"""Group membership, resolved the way Salesforce resolves it.

A user belongs to a group directly, through a nested group (transitively),
through a Role group for their role, through a RoleAndSubordinates group for
their role or any role above it, and to every Organization group while
active. The tables involved are small (roles, groups, members), so one
``OrgGraph`` loads them in three queries and answers in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sharing.models import Group, GroupMember, User, UserRole

_CACHE: dict[str, OrgGraph] = {}


def current_graph(version: str | None = None) -> OrgGraph:
    """The org graph for the current sharing version, built once per version per process.

    Every change to roles, groups, members or users' roles stores a new version
    in the same transaction (sharing.signals), so a process never uses a graph
    older than the data it can see. Writes that bypass ``save()`` (bulk loads,
    ``QuerySet.update``) must call ``Organization.bump_sharing_version()``.
    """
    from sharing.models import Organization

    if version is None:
        version = Organization.get().sharing_version
    graph = _CACHE.get(version)
    if graph is None:
        graph = OrgGraph()
        _CACHE.clear()
        _CACHE[version] = graph
    return graph


class OrgGraph:
    def __init__(self) -> None:
        # sharing.access's narrow/wide choice per (user, level): lives as long as the graph.
        self.visible_shapes: dict[tuple[int, str, int], tuple[bool, float]] = {}
        self.role_parent: dict[int, int | None] = dict(
            UserRole.objects.values_list("pk", "parent_role_id")
        )
        self.role_children: dict[int | None, list[int]] = defaultdict(list)
        for role, parent in self.role_parent.items():
            self.role_children[parent].append(role)
        self.groups: dict[int, tuple[str, int | None, bool]] = {
            pk: (kind, role, bosses)
            for pk, kind, role, bosses in Group.objects.values_list(
                "pk", "type", "related_role_id", "does_include_bosses"
            )
        }
        self.groups_of_user_direct: dict[int, set[int]] = defaultdict(set)
        self.parents_of_group: dict[int, set[int]] = defaultdict(set)
        self.users_of_group_direct: dict[int, set[int]] = defaultdict(set)
        self.subgroups: dict[int, set[int]] = defaultdict(set)
        for group, user, member_group in GroupMember.objects.values_list(
            "group_id", "member_user_id", "member_group_id"
        ):
            if user is not None:
                self.groups_of_user_direct[user].add(group)
                self.users_of_group_direct[group].add(user)
            else:
                self.parents_of_group[member_group].add(group)
                self.subgroups[group].add(member_group)
        self._effective: dict[tuple, tuple[set[int], dict[int, int]]] = {}
        self.users_by_role: dict[int, set[int]] = defaultdict(set)
        for pk, role in User.objects.filter(role__isnull=False).values_list("pk", "role_id"):
            self.users_by_role[role].add(pk)

    def users_with_a_role(self) -> int:
        return sum(len(users) for users in self.users_by_role.values())

    # ---- roles

    def roles_below(self, role: int | None) -> set[int]:
        """Every role strictly below ``role``."""
        found: set[int] = set()
        stack = list(self.role_children.get(role, [])) if role is not None else []
        while stack:
            current = stack.pop()
            if current not in found:
                found.add(current)
                stack.extend(self.role_children.get(current, []))
        return found

    def roles_at_or_above(self, role: int | None) -> list[int]:
        chain: list[int] = []
        while role is not None and role not in chain:
            chain.append(role)
            role = self.role_parent.get(role)
        return chain

    # ---- membership

    def _close_upwards(self, groups: Iterable[int]) -> set[int]:
        found = set(groups)
        stack = list(found)
        while stack:
            for parent in self.parents_of_group.get(stack.pop(), ()):
                if parent not in found:
                    found.add(parent)
                    stack.append(parent)
        return found

    def groups_of(self, user_id: int, role_id: int | None, is_active: bool = True) -> set[int]:
        """Every group the user is in, directly or transitively."""
        start = set(self.groups_of_user_direct.get(user_id, ()))
        above = set(self.roles_at_or_above(role_id))
        for pk, (kind, role, _bosses) in self.groups.items():
            if (
                (kind == Group.Type.ROLE and role == role_id and role_id is not None)
                or (kind == Group.Type.ROLE_AND_SUBORDINATES and role in above)
                or (kind == Group.Type.ORGANIZATION and is_active)
            ):
                start.add(pk)
        return self._close_upwards(start)

    def users_in(self, group_id: int) -> set[int]:
        """Every user in the group, transitively (a Role group's users, nested groups...)."""
        users: set[int] = set()
        seen: set[int] = set()
        stack = [group_id]
        role_ids: set[int] = set()
        everyone = False
        while stack:
            current = stack.pop()
            if current in seen or current not in self.groups:
                continue
            seen.add(current)
            kind, role, _bosses = self.groups[current]
            users |= self.users_of_group_direct.get(current, set())
            stack.extend(self.subgroups.get(current, ()))
            if kind == Group.Type.ROLE and role is not None:
                role_ids.add(role)
            elif kind == Group.Type.ROLE_AND_SUBORDINATES and role is not None:
                role_ids |= {role} | self.roles_below(role)
            elif kind == Group.Type.ORGANIZATION:
                everyone = True
        # Both, not either: an Organization group holds the active users, a Role group
        # every user in its roles, inactive ones included.
        if everyone:
            users |= set(User.objects.filter(is_active=True).values_list("pk", flat=True))
        if role_ids:
            users |= set(User.objects.filter(role_id__in=role_ids).values_list("pk", flat=True))
        return users

    def includes_bosses(self, group_id: int) -> bool:
        kind, _role, bosses = self.groups[group_id]
        # Role groups always pass access up the hierarchy.
        return bosses or kind in (Group.Type.ROLE, Group.Type.ROLE_AND_SUBORDINATES)

    def effective_groups(self, user: User) -> tuple[set[int], dict[int, int]]:
        """The groups whose shares reach ``user``: their own, plus the groups of every
        subordinate that include bosses. Returns (group ids, {group: via subordinate})."""
        key = (user.pk, user.role_id, user.is_active)
        if key not in self._effective:
            self._effective[key] = self._effective_groups(user)
        return self._effective[key]

    def _effective_groups(self, user: User) -> tuple[set[int], dict[int, int]]:
        own = self.groups_of(user.pk, user.role_id, user.is_active)
        via: dict[int, int] = {}
        below = self.roles_below(user.role_id)
        if below:
            for sub_pk, sub_role, sub_active in User.objects.filter(role_id__in=below).values_list(
                "pk", "role_id", "is_active"
            ):
                for group in self.groups_of(sub_pk, sub_role, sub_active):
                    if group not in own and group not in via and self.includes_bosses(group):
                        via[group] = sub_pk
        return own | set(via), via

    def users_in_roles(self, roles: Iterable[int]) -> set[int]:
        return set().union(*(self.users_by_role.get(role, set()) for role in roles))

    def queue_ids(self) -> set[int]:
        return {pk for pk, (kind, _r, _b) in self.groups.items() if kind == Group.Type.QUEUE}
