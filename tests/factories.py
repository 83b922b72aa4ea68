"""factory-boy factories: a small realistic org in a few lines of test code."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from sharing.models import Group, GroupMember, User, UserRole
from trackers import lifecycle
from trackers.choices import CadenceState, StepType
from trackers.models import (
    ActionCadence,
    ActionCadenceRule,
    ActionCadenceStep,
    Contact,
    Invoice,
    Lead,
    Opportunity,
)


class UserRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserRole

    name = factory.Sequence(lambda n: f"Role {n}")
    developer_name = factory.Sequence(lambda n: f"Role_{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"rep{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("pw-for-tests-123")


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Queue {n}")
    developer_name = factory.Sequence(lambda n: f"Queue_{n}")
    type = Group.Type.QUEUE


class GroupMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupMember


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    company = factory.Faker("company")
    email = factory.Faker("email")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Faker("email")


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    name = factory.Sequence(lambda n: f"Deal {n}")
    close_date = factory.LazyFunction(lambda: timezone.now().date() + dt.timedelta(days=30))


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    document_number = factory.Sequence(lambda n: f"INV-{n:05d}")


class CadenceFactory(factory.django.DjangoModelFactory):
    """An Active cadence with Root → call → email (no steps unless ``steps`` is given)."""

    class Meta:
        model = ActionCadence

    name = factory.Sequence(lambda n: f"Cadence {n}")
    state = CadenceState.ACTIVE
    owner = factory.SubFactory(UserFactory)


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionCadenceStep

    action_cadence = factory.SubFactory(CadenceFactory)
    step_name = factory.Sequence(lambda n: f"step_{n}")
    type = StepType.MAKE_A_CALL


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionCadenceRule

    action_cadence = factory.SubFactory(CadenceFactory)
    rule_name = factory.Sequence(lambda n: f"rule_{n}")


def make_cadence(*step_types: str, **kwargs) -> ActionCadence:
    """A cadence whose steps run in the given order: make_cadence("MakeACall", "Wait", ...).

    A Wait step waits one day; a DaisyChain step needs ``chained_cadence=...``.
    """
    chained = kwargs.pop("chained_cadence", None)
    cadence = CadenceFactory(**kwargs)
    StepFactory(action_cadence=cadence, step_name="Root", type=StepType.ROOT)
    parent = "Root"
    for index, step_type in enumerate(step_types or (StepType.MAKE_A_CALL,), start=1):
        name = f"{index}_{step_type}"
        StepFactory(
            action_cadence=cadence,
            step_name=name,
            step_title=f"Step {index}: {step_type}",
            type=step_type,
            parent_step_name=parent,
            wait_time_in_seconds=86400 if step_type == StepType.WAIT else None,
            chained_cadence=chained if step_type == StepType.DAISY_CHAIN else None,
        )
        parent = name
    return cadence


def running_tracker(owner=None, cadence=None, target=None, **kwargs):
    """A Running tracker made the way the product makes them: through the lifecycle."""
    owner = owner or UserFactory()
    cadence = cadence or make_cadence(StepType.MAKE_A_CALL, StepType.SEND_AN_EMAIL)
    target = target or LeadFactory()
    actor = kwargs.pop("actor", None) or (owner if isinstance(owner, User) else cadence.owner)
    return lifecycle.assign_target(target, cadence, actor=actor, owner=owner, **kwargs)
