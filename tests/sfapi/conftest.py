"""Fixtures for the Salesforce-compatible API: bearer-token clients and a small org.

The org is the three-user pattern: ``rep`` owns trackers, ``teammate`` reads them
through an owner sharing rule, ``outsider`` sees none of them.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from sharing import recalc, services
from sharing.models import ActionCadenceTrackerOwnerSharingRule, ApiToken, Group, GroupMember
from tests.factories import running_tracker
from trackers.models import ActionCadenceTracker, Lead

BASE = "/services/data/v64.0"


def client_for(user) -> APIClient:
    _token, raw = ApiToken.issue(user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def public_group(name: str, *users) -> Group:
    group = Group.objects.create(name=name, developer_name=name.replace(" ", "_"))
    for user in users:
        GroupMember.objects.create(group=group, member_user=user)
    return group


def share_by_rule(owners: Group, readers: Group, level: str = "Read") -> None:
    rule = ActionCadenceTrackerOwnerSharingRule(
        name=f"{owners.name} to {readers.name}",
        developer_name=f"{owners.developer_name}_to_{readers.developer_name}",
        group=owners,
        share_with_group=readers,
        access_level=level,
    )
    services.save_rule(rule, actor=None)


def bulk_trackers(owner, cadence, count: int, **fields) -> list[ActionCadenceTracker]:
    """``count`` Running trackers written straight to the table, for scale and paging tests
    (the lifecycle makes them one at a time; these tests only read them)."""
    leads = Lead.objects.bulk_create(
        [Lead(last_name=f"Bulk {index}", company="Acme") for index in range(count)]
    )
    values = {"state": "Running", "daisy_chain_iteration": 1, **fields}
    trackers = ActionCadenceTracker.objects.bulk_create(
        [
            ActionCadenceTracker(
                action_cadence=cadence, owner_user=owner, target_lead=lead, **values
            )
            for lead in leads
        ]
    )
    recalc.recalculate_for_trackers([tracker.pk for tracker in trackers])
    return trackers


def query(client: APIClient, soql: str, **headers):
    return client.get(f"{BASE}/query/", {"q": soql}, **headers)


@pytest.fixture
def api():
    """``api(user)``: an APIClient sending that user's bearer token."""
    return client_for


@pytest.fixture
def org(rep, teammate, outsider):
    """rep owns two Running trackers on one cadence; teammate reads them via a rule."""
    share_by_rule(public_group("East team", rep), public_group("East readers", teammate))
    first = running_tracker(owner=rep)
    second = running_tracker(owner=rep, cadence=first.action_cadence)
    return {"cadence": first.action_cadence, "trackers": [first, second]}
