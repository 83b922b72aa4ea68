"""A small sales team for the dashboard and browser tests.

- ``owner`` (a rep) owns the trackers;
- ``teammate`` (another rep) reads them through an owner sharing rule: the rule
  shares the East team's trackers with the "East readers" group (Read);
- ``editor`` gets Edit on them through a second rule;
- ``manager`` sits above both reps in the role hierarchy (All on the owner's trackers);
- ``outsider`` has no grant at all.
"""

from __future__ import annotations

from django.test import Client

from sharing import services
from sharing.models import ActionCadenceTrackerOwnerSharingRule, Group, GroupMember
from tests.factories import (
    LeadFactory,
    UserFactory,
    UserRoleFactory,
    make_cadence,
    running_tracker,
)
from trackers import lifecycle
from trackers.choices import StepType
from trackers.models import ActionCadenceTracker, Lead


def public_group(name: str, *users) -> Group:
    group = Group.objects.create(name=name, developer_name=name.replace(" ", "_"))
    for user in users:
        GroupMember.objects.create(group=group, member_user=user)
    return group


def owner_rule(source: Group, grantee, level: str, developer_name: str):
    rule = ActionCadenceTrackerOwnerSharingRule(
        name=developer_name.replace("_", " "),
        developer_name=developer_name,
        group=source,
        share_with_user=grantee if not isinstance(grantee, Group) else None,
        share_with_group=grantee if isinstance(grantee, Group) else None,
        access_level=level,
    )
    services.save_rule(rule, actor=None)
    return rule


class Team:
    def __init__(self) -> None:
        manager_role = UserRoleFactory(name="Sales Manager")
        rep_role = UserRoleFactory(name="Sales Rep", parent_role=manager_role)
        self.manager = UserFactory(username="manager", role=manager_role)
        self.owner = UserFactory(username="owner", role=rep_role)
        self.teammate = UserFactory(username="teammate", role=rep_role)
        self.editor = UserFactory(username="editor")
        self.outsider = UserFactory(username="outsider")
        east = public_group("East team", self.owner)
        readers = public_group("East readers", self.teammate)
        owner_rule(east, readers, "Read", "East_to_readers")
        owner_rule(east, self.editor, "Edit", "East_to_editor")
        self.cadence = make_cadence(
            StepType.MAKE_A_CALL, StepType.SEND_AN_EMAIL, name="Inbound follow-up"
        )

    def running(self, count: int = 1, owner=None) -> list:
        return [
            running_tracker(owner=owner or self.owner, cadence=self.cadence, target=LeadFactory())
            for _ in range(count)
        ]

    def mixed(self, count: int) -> list:
        """``count`` trackers in every state a dashboard shows, Processing included."""
        trackers = self.running(max(count, 5))
        lifecycle.pause(trackers[0], actor=self.owner)
        lifecycle.remove_target(trackers[1], actor=self.owner, disposition="Success")
        lifecycle.remove_target(trackers[2], actor=self.owner, disposition="Not Interested")
        lifecycle.mark_error(trackers[3], "Mailbox unavailable")
        lifecycle.start_bulk("pause", [trackers[4]], actor=self.owner)
        return trackers

    def copies(self, templates: list, count: int) -> list:
        """``count`` more trackers shaped like ``templates`` (states, owners, cadence), written
        in two bulk inserts. Only for scaling tests: they skip the lifecycle, so they have
        no step trackers or change events."""
        leads = Lead.objects.bulk_create(LeadFactory.build_batch(count))
        fields = [
            field.attname
            for field in ActionCadenceTracker._meta.concrete_fields
            if not field.primary_key
            and not field.generated
            and field.attname not in ("sf_id", "target_lead_id", "target_contact_id")
        ]
        rows = []
        for index, lead in enumerate(leads):
            template = templates[index % len(templates)]
            template.refresh_from_db()
            values = {name: getattr(template, name) for name in fields}
            rows.append(ActionCadenceTracker(**values, target_lead=lead))
        return ActionCadenceTracker.objects.bulk_create(rows)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
