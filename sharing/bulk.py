"""Sharing data at scale, for benchmarks: groups with members and owner sharing rules.

Written with bulk inserts, which skip the signals, so it bumps the sharing version
itself; the caller recalculates (``sharing.services.schedule_recalculation``).
"""

from __future__ import annotations

import random

from django.db import transaction

from sharing.models import ActionCadenceTrackerOwnerSharingRule, Group, GroupMember, Organization


def build_groups_and_rules(
    user_ids: list[int], *, groups: int, rules: int, rng: random.Random, prefix: str = "Bench"
) -> tuple[int, int]:
    """``groups`` public groups of five users (every tenth nests the one before) and
    ``rules`` rules each sharing one group's trackers with another group (Read).
    Idempotent by DeveloperName prefix: a second call adds nothing."""
    if not groups or Group.objects.filter(developer_name__startswith=f"{prefix}_G").exists():
        return 0, 0
    rules = min(rules, groups // 2)
    with transaction.atomic():
        made = Group.objects.bulk_create(
            Group(name=f"{prefix} {n}", developer_name=f"{prefix}_G{n}") for n in range(groups)
        )
        members = []
        for index, group in enumerate(made):
            picked = rng.sample(user_ids, min(5, len(user_ids)))
            members += [GroupMember(group=group, member_user_id=pk) for pk in picked]
            if index % 10 == 9:
                members.append(GroupMember(group=group, member_group=made[index - 1]))
        GroupMember.objects.bulk_create(members)
        ActionCadenceTrackerOwnerSharingRule.objects.bulk_create(
            ActionCadenceTrackerOwnerSharingRule(
                name=f"{prefix} rule {n}",
                developer_name=f"{prefix}_R{n}",
                group=made[n],
                share_with_group=made[groups - 1 - n],
                access_level="Read",
            )
            for n in range(rules)
        )
        Organization.bump_sharing_version()
    return groups, rules
