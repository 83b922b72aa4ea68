"""The API's cast: an owner (rep), a teammate who reads the owner's trackers through an
owner sharing rule, and an outsider who sees none of them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from sharing import services
from sharing.models import ActionCadenceTrackerOwnerSharingRule, ApiToken, Group, GroupMember
from tests.factories import (
    ContactFactory,
    InvoiceFactory,
    OpportunityFactory,
    make_cadence,
    running_tracker,
)
from trackers import lifecycle
from trackers.choices import StepType


def public_group(name, *users):
    group = Group.objects.create(name=name, developer_name=name.replace(" ", "_"))
    for user in users:
        GroupMember.objects.create(group=group, member_user=user)
    return group


def share_by_rule(owner, grantee, level="Read", name="Team_rule", source=None):
    """Every tracker ``owner`` owns (or members of ``source`` own) is shared with
    ``grantee`` through a sharing rule."""
    rule = ActionCadenceTrackerOwnerSharingRule(
        name=name.replace("_", " "),
        developer_name=name,
        group=source or public_group(f"{name} owners", owner),
        share_with_user=grantee,
        access_level=level,
    )
    services.save_rule(rule, actor=None)
    return rule


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def bearer_client(user) -> APIClient:
    """A client that signs in the way integrations do, so auth queries are counted too."""
    _token, raw = ApiToken.issue(user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def org(rep, teammate, outsider):
    """rep owns a Running tracker; a rule lets teammate read rep's trackers."""
    rule = share_by_rule(rep, teammate)
    tracker = running_tracker(owner=rep)
    return {"tracker": tracker, "rule": rule}


@pytest.fixture
def tracker(org):
    return org["tracker"]


def varied_trackers(owner, count: int) -> list:
    """``count`` trackers of ``owner`` with every reference the API summarises filled in
    somewhere: Lead and Contact targets, RelatedTo records, completed and paused ones."""
    cadence = make_cadence(StepType.MAKE_A_CALL, StepType.SEND_AN_EMAIL)
    made = []
    for index in range(count):
        if index % 3 == 1:
            tracker = running_tracker(
                owner=owner,
                cadence=cadence,
                target=ContactFactory(),
                related_to=OpportunityFactory() if index % 2 else InvoiceFactory(),
                attribution_type="Activation",
            )
        else:
            tracker = running_tracker(owner=owner, cadence=cadence)
        if index % 4 == 2:
            lifecycle.complete_step(tracker, actor=owner)
            lifecycle.remove_target(tracker, actor=owner, disposition="Success")
        elif index % 4 == 3:
            lifecycle.pause(tracker, actor=owner)
        made.append(tracker)
    return made
