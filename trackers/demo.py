"""The demo org behind ``manage.py seed_demo``: people, sharing, cadences and a
90-day history of trackers in every State and CompletionReason.

A showcase of tracker stories is played through the lifecycle, action by action
in time order, with the clock set to each action's moment: their CreatedDate,
step timelines, change events and replay ids agree with each other as if the org
had been running for three months. The rest of the volume comes from the bulk
writer (``trackers.bulkload``), dated over the same 90 days.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from unittest import mock

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group as PermissionGroup
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from sharing.models import AccessLevel, Group, GroupMember, Organization, User, UserRole
from sharing.models import ActionCadenceTrackerOwnerSharingRule as SharingRule
from sharing.services import save_rule
from trackers import lifecycle
from trackers.bulkload import (
    ERROR_MESSAGES,
    BulkTrackerWriter,
    CadenceRef,
    OwnerRef,
    RelatedRef,
    TargetRef,
    TrackerMix,
)
from trackers.choices import (
    BulkAction,
    CadenceState,
    CadenceType,
    ChangeType,
    CompletionDisposition,
    CompletionReason,
    GlobalEventType,
    RelatedToAttributionType,
    RuleType,
    StepTrackerCompletionReason,
    StepType,
    TrackerState,
)
from trackers.models import (
    ActionCadence,
    ActionCadenceRule,
    ActionCadenceStep,
    ActionCadenceTracker,
    BulkJob,
    Contact,
    Invoice,
    Lead,
    Opportunity,
)

DEMO_PASSWORD = "demo-pass-2026"
DEFAULT_TRACKERS = 3000
HISTORY_DAYS = 90

# --------------------------------------------------------------------------- cadence building


@dataclass(frozen=True)
class StepSpec:
    """One step of a cadence; ``parent`` defaults to the step declared before it."""

    name: str
    type: str
    title: str = ""
    parent: str | None = None
    wait_days: float | None = None
    chained: str | None = None  # DaisyChain: the name of the cadence it hands over to
    sort_order: int = 0


def create_cadence(
    name: str,
    *,
    owner: User,
    steps: Sequence[StepSpec],
    exit_events: Sequence[str] = (),
    state: str = CadenceState.ACTIVE,
    cadence_type: str = CadenceType.STANDARD,
    description: str = "",
) -> ActionCadence:
    """A cadence with a Root step, ``steps`` below it and one RootStep (global exit)
    rule per event in ``exit_events``."""
    now = timezone.now()
    cadence = ActionCadence(
        name=name,
        state=state,
        type=cadence_type,
        owner=owner,
        description=description,
        activated_date=None if state == CadenceState.DRAFT else now,
    )
    cadence.stamp(owner, now)
    cadence.save()
    step_rows = [ActionCadenceStep(action_cadence=cadence, step_name="Root", type=StepType.ROOT)]
    parent = "Root"
    for spec in steps:
        step_rows.append(
            ActionCadenceStep(
                action_cadence=cadence,
                step_name=spec.name,
                step_title=spec.title or spec.name,
                type=spec.type,
                parent_step_name=spec.parent or parent,
                sort_order=spec.sort_order,
                wait_time_in_seconds=int(spec.wait_days * 86400) if spec.wait_days else None,
                chained_cadence=(
                    ActionCadence.objects.get(name=spec.chained) if spec.chained else None
                ),
            )
        )
        parent = spec.name
    rules = [
        ActionCadenceRule(
            action_cadence=cadence,
            rule_name=f"Exit on {event}",
            rule_type=RuleType.ROOT_STEP,
            global_event_type=event,
        )
        for event in exit_events
    ]
    for row in [*step_rows, *rules]:
        row.stamp(owner, now)
    ActionCadenceStep.objects.bulk_create(step_rows)
    ActionCadenceRule.objects.bulk_create(rules)
    return cadence


def main_path(cadence: ActionCadence) -> list[ActionCadenceStep]:
    """The steps a tracker walks when every step is completed and every Branch takes
    its first child, the way the lifecycle advances; a DaisyChain step ends it."""
    steps = list(cadence.steps.all())
    children: dict[str, list[ActionCadenceStep]] = {}
    for step in sorted(steps, key=lambda step: (step.sort_order, step.step_name)):
        children.setdefault(step.parent_step_name, []).append(step)
    root = next(step for step in steps if step.type == StepType.ROOT)
    path: list[ActionCadenceStep] = []
    current = children.get(root.step_name, [])
    while current and current[0].type != StepType.DAISY_CHAIN:
        path.append(current[0])
        current = children.get(current[0].step_name, [])
    return path


# --------------------------------------------------------------------------- the org

ROLES = (
    # developer name, name, parent
    ("VP_Sales", "VP Sales", None),
    ("East_Sales_Manager", "East Sales Manager", "VP_Sales"),
    ("East_Sales_Rep", "East Sales Rep", "East_Sales_Manager"),
    ("West_Sales_Manager", "West Sales Manager", "VP_Sales"),
    ("West_Sales_Rep", "West Sales Rep", "West_Sales_Manager"),
    ("Sales_Operations", "Sales Operations", "VP_Sales"),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str | None
    what: str
    is_superuser: bool = False


DEMO_USERS = (
    DemoUser("admin", "Avery", "Admin", None, "admin (superuser)", is_superuser=True),
    DemoUser("vp", "Victoria", "Price", "VP_Sales", "VP Sales (sees every rep below her)"),
    DemoUser("manager_east", "Elena", "Ortiz", "East_Sales_Manager", "manager, East team"),
    DemoUser("manager_west", "Wesley", "Park", "West_Sales_Manager", "manager, West team"),
    DemoUser("rep_east_1", "Priya", "Nair", "East_Sales_Rep", "rep, East (Inbound Queue)"),
    DemoUser("rep_east_2", "Tom", "Becker", "East_Sales_Rep", "rep, East"),
    DemoUser("rep_east_3", "Jasmine", "Cole", "East_Sales_Rep", "rep, East"),
    DemoUser("rep_west_1", "Diego", "Alvarez", "West_Sales_Rep", "rep, West (Inbound Queue)"),
    DemoUser("rep_west_2", "Hannah", "Kim", "West_Sales_Rep", "rep, West"),
    DemoUser("rep_west_3", "Noah", "Fischer", "West_Sales_Rep", "rep, West"),
    DemoUser("salesops", "Sam", "Rivera", "Sales_Operations", "sales ops (Sales Ops group)"),
)
REPS = tuple(user.username for user in DEMO_USERS if user.username.startswith("rep_"))
QUEUE_MEMBERS = ("rep_east_1", "rep_west_1")
STAFF_PERMISSION_GROUP = "Cadence Ops staff"
# What non-superuser staff may do in the admin; which rows they see is sharing's business.
STAFF_PERMISSIONS = {
    "actioncadencetracker": ("view", "change"),
    "actioncadencesteptracker": ("view", "change"),
    "actioncadencetrackerchangeevent": ("view", "change"),
    "lead": ("view", "change"),
    "contact": ("view", "change"),
    "actioncadence": ("view", "change"),
    "actioncadencestep": ("view",),
    "actioncadencerule": ("view",),
    "opportunity": ("view",),
    "invoice": ("view",),
}
GROUPS = (
    # developer name, name, type, role (Role / RoleAndSubordinates groups)
    ("Sales_Ops", "Sales Ops", Group.Type.REGULAR, None),
    ("Inbound_Queue", "Inbound Queue", Group.Type.QUEUE, None),
    ("All_Sales", "All Sales", Group.Type.ROLE_AND_SUBORDINATES, "VP_Sales"),
    ("East_Sales_Reps", "East Sales Reps", Group.Type.ROLE, "East_Sales_Rep"),
    ("West_Sales_Reps", "West Sales Reps", Group.Type.ROLE, "West_Sales_Rep"),
)
SHARING_RULES = (
    # developer name, name, source group, grantee group, access
    (
        "Sales_Ops_Reads_All_Sales",
        "Sales Ops reads every sales tracker",
        "All_Sales",
        "Sales_Ops",
        AccessLevel.READ,
    ),
    (
        "East_Reps_Share_With_West_Reps",
        "East reps share their trackers with West reps",
        "East_Sales_Reps",
        "West_Sales_Reps",
        AccessLevel.READ,
    ),
)

INBOUND = "Inbound Lead Follow-up"
OUTBOUND = "Outbound Enterprise Prospecting"
NURTURE = "Long-Term Nurture"
WEBINAR = "Webinar Attendee Follow-up"
RENEWAL = "Renewal & Collections Outreach"
ROADSHOW = "Q3 Roadshow Invitations"
LEGACY = "Legacy Cold Call Blitz"

E = GlobalEventType
CADENCES = (
    # Created in this order: a DaisyChain step needs its chained cadence to exist.
    (
        NURTURE,
        "manager_east",
        CadenceState.ACTIVE,
        CadenceType.STANDARD,
        "Slow drip for prospects who are not ready yet.",
        (
            StepSpec("newsletter", StepType.AUTO_SEND_AN_EMAIL, "Monthly newsletter"),
            StepSpec("wait_week", StepType.WAIT, "Wait a week", wait_days=7),
            StepSpec("product_update", StepType.AUTO_SEND_AN_EMAIL, "Product update email"),
            StepSpec("check_in", StepType.CREATE_TASK, "Check in on the account"),
        ),
        (E.EMAIL_REPLY, E.EMAIL_HARD_BOUNCE, E.EMAIL_SOFT_BOUNCE),
    ),
    (
        INBOUND,
        "manager_east",
        CadenceState.ACTIVE,
        CadenceType.STANDARD,
        "Speed-to-lead for web form and chat leads.",
        (
            StepSpec("first_call", StepType.MAKE_A_CALL, "Call within 5 minutes"),
            StepSpec("thanks_email", StepType.SEND_AN_EMAIL, "Thanks for reaching out"),
            StepSpec("wait_day", StepType.WAIT, "Wait 1 day", wait_days=1),
            StepSpec("second_call", StepType.MAKE_A_CALL, "Second call attempt"),
            StepSpec("connected", StepType.BRANCH, "Connected on a call?"),
            StepSpec("recap_email", StepType.SEND_AN_EMAIL, "Meeting recap", parent="connected"),
            StepSpec(
                "breakup_email",
                StepType.AUTO_SEND_AN_EMAIL,
                "Break-up email",
                parent="connected",
                sort_order=1,
            ),
        ),
        (
            E.EMAIL_REPLY,
            E.EMAIL_HARD_BOUNCE,
            E.CALL_NOT_INTERESTED,
            E.CALL_UNQUALIFIED,
            E.CALL_MEANINGFUL_CONNECT,
        ),
    ),
    (
        OUTBOUND,
        "manager_west",
        CadenceState.ACTIVE,
        CadenceType.STANDARD,
        "Multi-touch outreach to target accounts; unresponsive prospects go to nurture.",
        (
            StepSpec("linkedin_connect", StepType.LINKEDIN_CONNECTION, "Connect on LinkedIn"),
            StepSpec("intro_email", StepType.SEND_AN_EMAIL, "Personalised intro email"),
            StepSpec("wait_two_days", StepType.WAIT, "Wait 2 days", wait_days=2),
            StepSpec("discovery_call", StepType.MAKE_A_CALL, "Discovery call"),
            StepSpec("inmail", StepType.LINKEDIN_MAIL, "LinkedIn InMail follow-up"),
            StepSpec("case_study_email", StepType.SEND_AN_EMAIL, "Case study email"),
            StepSpec(
                "to_nurture",
                StepType.DAISY_CHAIN,
                "Hand over to long-term nurture",
                chained=NURTURE,
            ),
        ),
        (E.EMAIL_REPLY, E.EMAIL_HARD_BOUNCE, E.CALL_NOT_INTERESTED, E.CALL_MEANINGFUL_CONNECT),
    ),
    (
        WEBINAR,
        "manager_west",
        CadenceState.ACTIVE,
        CadenceType.QUICK,
        "Follow up with everyone who attended a product webinar.",
        (
            StepSpec("thanks_email", StepType.SEND_AN_EMAIL, "Thanks for attending"),
            StepSpec("follow_up_call", StepType.MAKE_A_CALL, "Follow-up call"),
            StepSpec("wait_day", StepType.WAIT, "Wait 1 day", wait_days=1),
            StepSpec("recording_email", StepType.SEND_AN_EMAIL, "Recording and slides"),
        ),
        (E.EMAIL_REPLY, E.EMAIL_HARD_BOUNCE, E.CALL_NOT_INTERESTED),
    ),
    (
        RENEWAL,
        "manager_east",
        CadenceState.ACTIVE,
        CadenceType.STANDARD,
        "Renewals and overdue invoices for existing customers.",
        (
            StepSpec("reminder_email", StepType.SEND_AN_EMAIL, "Renewal reminder"),
            StepSpec("renewal_call", StepType.MAKE_A_CALL, "Renewal call"),
            StepSpec("wait_three_days", StepType.WAIT, "Wait 3 days", wait_days=3),
            StepSpec("escalate", StepType.CREATE_TASK, "Escalate the overdue invoice"),
            StepSpec("log_outcome", StepType.PLATFORM_SCREEN_FLOW, "Log the renewal outcome"),
        ),
        (E.EMAIL_REPLY, E.EMAIL_HARD_BOUNCE, E.CALL_MEANINGFUL_CONNECT),
    ),
    (
        ROADSHOW,
        "manager_west",
        CadenceState.DRAFT,
        CadenceType.STANDARD,
        "Invitations to the Q3 city roadshow (not launched yet).",
        (
            StepSpec("invite_email", StepType.SEND_AN_EMAIL, "Roadshow invitation"),
            StepSpec("wait_two_days", StepType.WAIT, "Wait 2 days", wait_days=2),
            StepSpec("rsvp_call", StepType.MAKE_A_CALL, "RSVP call"),
        ),
        (E.EMAIL_REPLY,),
    ),
    (
        LEGACY,
        "manager_east",
        CadenceState.ACTIVE,  # deactivated once its history is written
        CadenceType.STANDARD,
        "Retired last quarter; kept for its history.",
        (
            StepSpec("cold_call", StepType.MAKE_A_CALL, "Cold call"),
            StepSpec("second_cold_call", StepType.MAKE_A_CALL, "Second cold call"),
            StepSpec("voicemail_email", StepType.SEND_AN_EMAIL, "Sorry I missed you"),
        ),
        (E.EMAIL_REPLY, E.CALL_NOT_INTERESTED),
    ),
)
CADENCE_NAMES = tuple(spec[0] for spec in CADENCES)
# Where new targets go; Outbound hands over to Nurture, Legacy only has history.
ENROLLING = (INBOUND, OUTBOUND, WEBINAR, RENEWAL, NURTURE)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Olivia Liam Emma Noah Ava Oliver Sophia Elijah Isabella James Mia William Amelia "
    "Benjamin Harper Lucas Evelyn Henry Abigail Alexander Emily Daniel Ella Matthew "
    "Scarlett Samuel Grace Jack Chloe Sebastian Zoe Aiden Nora Owen Lily Wyatt Hannah "
    "Julian Aria Levi Layla Isaac Riley Gabriel Leah Anthony Maya Dylan Naomi Ravi "
    "Mei Kenji Fatima Omar Ingrid Lars Sofia Mateo Aisha Kwame Yuki Anika Tariq"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright "
    "Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell "
    "Mitchell Carter Roberts Patel Chen Okafor Novak Schmidt Tanaka Kowalski Haddad"
)
COMPANIES = (
    ("Northwind Traders", "northwind.example"),
    ("Contoso Pharmaceuticals", "contoso.example"),
    ("Fabrikam Robotics", "fabrikam.example"),
    ("Tailspin Toys", "tailspintoys.example"),
    ("Wingtip Outfitters", "wingtip.example"),
    ("Adventure Works Cycles", "adventure-works.example"),
    ("Blue Yonder Airlines", "blueyonder.example"),
    ("Coho Winery", "cohowinery.example"),
    ("Alpine Ski House", "alpineskihouse.example"),
    ("Lucerne Publishing", "lucernepublishing.example"),
    ("Margie's Travel", "margiestravel.example"),
    ("Proseware Analytics", "proseware.example"),
    ("Trey Research", "treyresearch.example"),
    ("Woodgrove Bank", "woodgrovebank.example"),
    ("Litware Systems", "litware.example"),
    ("Humongous Insurance", "humongousinsurance.example"),
    ("Graphic Design Institute", "graphicdesigninstitute.example"),
    ("Datum Corporation", "datum.example"),
    ("Relecloud", "relecloud.example"),
    ("Southridge Video", "southridgevideo.example"),
    ("Fourth Coffee", "fourthcoffee.example"),
    ("Consolidated Messenger", "consolidatedmessenger.example"),
    ("City Power & Light", "cpandl.example"),
    ("First Up Consultants", "firstupconsultants.example"),
    ("Wide World Importers", "wideworldimporters.example"),
    ("Bellows College", "bellowscollege.example"),
    ("Nod Publishers", "nodpublishers.example"),
    ("VanArsdel Foods", "vanarsdel.example"),
    ("Baldwin Museum of Science", "baldwinmuseum.example"),
    ("Best For You Organics", "bestforyou.example"),
)
TITLES = (
    "VP of Operations",
    "Head of Procurement",
    "Director of IT",
    "Chief Financial Officer",
    "Sales Operations Manager",
    "Marketing Director",
    "Office Manager",
    "Head of Customer Success",
    "Controller",
    "CTO",
    "Accounts Payable Lead",
)
LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Nurturing")
PRODUCTS = (
    "Platform Expansion",
    "Annual Renewal",
    "Analytics Add-on",
    "Pilot",
    "Enterprise Upgrade",
)
STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Proposal", "Negotiation")


@dataclass
class DemoOrg:
    users: dict[str, User]
    roles: dict[str, UserRole]
    groups: dict[str, Group]


def demo_exists() -> bool:
    return ActionCadence.objects.filter(name__in=CADENCE_NAMES).exists()


def logins() -> list[tuple[str, str, str]]:
    """(username, password, who they are) for every demo user."""
    return [(user.username, DEMO_PASSWORD, user.what) for user in DEMO_USERS]


def ensure_org() -> DemoOrg:
    """Roles, users, groups, queue, permissions and the org-wide default; safe to repeat.
    Demo users get the demo password each time."""
    roles: dict[str, UserRole] = {}
    for developer_name, name, parent in ROLES:
        role, _ = UserRole.objects.update_or_create(
            developer_name=developer_name,
            defaults={"name": name, "parent_role": roles.get(parent) if parent else None},
        )
        roles[developer_name] = role
    staff = _staff_permission_group()
    password = make_password(DEMO_PASSWORD)  # hashed once: hashing is slow on purpose
    users: dict[str, User] = {}
    for spec in DEMO_USERS:
        user, _ = User.objects.update_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@cadence-ops.example",
                "role": roles.get(spec.role) if spec.role else None,
                "is_staff": True,
                "is_superuser": spec.is_superuser,
                "is_active": True,
                "password": password,
            },
        )
        if not spec.is_superuser:
            user.groups.add(staff)
        users[spec.username] = user
    groups: dict[str, Group] = {}
    for developer_name, name, group_type, role in GROUPS:
        group, _ = Group.objects.update_or_create(
            developer_name=developer_name,
            defaults={"name": name, "type": group_type, "related_role": roles.get(role)},
        )
        groups[developer_name] = group
    for group_name, usernames in (("Sales_Ops", ("salesops",)), ("Inbound_Queue", QUEUE_MEMBERS)):
        for username in usernames:
            GroupMember.objects.get_or_create(group=groups[group_name], member_user=users[username])
    org = Organization.get()
    org.tracker_default_access = Organization.TrackerAccess.PRIVATE
    org.save()
    return DemoOrg(users=users, roles=roles, groups=groups)


def _staff_permission_group() -> PermissionGroup:
    group, _ = PermissionGroup.objects.get_or_create(name=STAFF_PERMISSION_GROUP)
    wanted = [
        f"{action}_{model}" for model, actions in STAFF_PERMISSIONS.items() for action in actions
    ]
    group.permissions.set(
        Permission.objects.filter(content_type__app_label="trackers", codename__in=wanted)
    )
    return group


def ensure_sharing_rules(org: DemoOrg) -> None:
    for developer_name, name, source, grantee, level in SHARING_RULES:
        rule = SharingRule.objects.filter(developer_name=developer_name).first() or SharingRule(
            developer_name=developer_name
        )
        rule.name = name
        rule.group = org.groups[source]
        rule.share_with_group = org.groups[grantee]
        rule.share_with_user = None
        rule.access_level = level
        save_rule(rule, actor=org.users["admin"])


def wipe() -> None:
    """Delete the demo's cadences, trackers, targets and related records (not its users,
    roles and groups, which ``ensure_org`` brings back to their demo shape)."""
    cadences = ActionCadence.objects.filter(name__in=CADENCE_NAMES)
    trackers = ActionCadenceTracker.all_objects.filter(action_cadence__in=cadences)
    jobs = BulkJob.objects.filter(trackers__in=trackers).distinct()
    _delete_queued_tasks(list(jobs.exclude(task_id="").values_list("task_id", flat=True)))
    BulkJob.objects.filter(pk__in=list(jobs.values_list("pk", flat=True))).delete()
    # Trackers point at their step trackers and back; unhook before deleting.
    trackers.update(current_step=None, last_completed_step=None)
    trackers.delete()
    ActionCadenceStep.objects.filter(action_cadence__in=cadences).delete()
    cadences.delete()
    demo_users = User.objects.filter(username__in=[user.username for user in DEMO_USERS])
    for model in (Lead, Contact, Opportunity, Invoice):
        model.objects.filter(created_by__in=demo_users).delete()


def _delete_queued_tasks(task_ids: list[str]) -> None:
    if not task_ids:
        return
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(pk__in=task_ids).delete()


# --------------------------------------------------------------------------- the history


@contextmanager
def _clock(start: dt.datetime) -> Iterator[Callable[[dt.datetime], None]]:
    """Make ``timezone.now()`` return a moment the caller moves forward.

    The lifecycle stamps every change with ``timezone.now()``; replaying the demo's
    history under this clock dates each change at its moment in that history.
    """
    current = [start]

    def set_time(moment: dt.datetime) -> None:
        current[0] = moment

    with mock.patch.object(timezone, "now", lambda: current[0]):
        yield set_time


# Kinds of showcase story, their share of the showcase and a floor so a small demo
# still has each; "running" takes what is left.
STORY_MIX = (
    ("paused", 0.04, 2),
    ("paused_until", 0.03, 2),
    ("initializing", 0.015, 2),
    ("error", 0.03, 2),
    ("no_more_steps", 0.15, 3),
    ("removed", 0.20, 2 * (len(CompletionDisposition) + 1)),
    ("exited", 0.10, 4),
    ("lead_converted", 0.05, 2),
    ("daisy_chained", 0.04, 2),  # two trackers each: the chained one keeps running
    ("deleted_step", 0.01, 2),
    ("invalid_parent_step", 0.01, 2),
)
# Stories that leave the target active, converted or broken come last for their target.
LAST_FOR_TARGET = frozenset(
    {
        "running",
        "paused",
        "paused_until",
        "initializing",
        "error",
        "lead_converted",
        "daisy_chained",
    }
)
# Stories whose tracker is still active at the end: their last action is recent.
STILL_ACTIVE = frozenset({"running", "paused", "paused_until", "initializing"})
RECYCLED = 5  # recent removals sent to the recycle bin
# The share of trackers made through the lifecycle (every kind of story has a floor).
SHOWCASE_SHARE = 0.05
SHOWCASE_MINIMUM = 60
# The bulk trackers: about a third active, no DaisyChained (whose successor the bulk
# writer cannot make), the other reasons as a sales team sees them.
BULK_ACTIVE_SHARE = 0.36
BULK_MIX = TrackerMix(
    active_states=(
        (TrackerState.RUNNING, 80),
        (TrackerState.PAUSED, 17),
        (TrackerState.INITIALIZING, 3),
    ),
    error_share=0.05,
    reasons=(
        (CompletionReason.NO_MORE_STEPS, 30),
        (CompletionReason.MANUALLY_REMOVED, 35),
        (CompletionReason.AUTOMATICALLY_EXITED, 20),
        (CompletionReason.LEAD_CONVERTED, 9),
        (CompletionReason.AUTOMATICALLY_EXITED_DELETED_STEP, 3),
        (CompletionReason.AUTOMATICALLY_EXITED_INVALID_PARENT_STEP, 3),
    ),
    opportunity_share=0.15,
    invoice_share=0.06,
    later_daisy_iteration=0,  # a second iteration needs the DaisyChained tracker before it
)


@dataclass
class Story:
    """One tracker's life: assigned, ``progress`` steps completed, then ``ending``
    (None: it stays where it stopped). ``times`` dates each of those actions."""

    kind: str
    cadence: ActionCadence
    path: list[ActionCadenceStep]
    owner: User | Group
    actor: User
    related_to: Opportunity | Invoice | None = None
    attribution: str | None = None
    progress: int = 0
    ending: Callable[[Story], Any] | None = None
    target: Lead | Contact | None = None
    tracker: ActionCadenceTracker | None = None
    times: list[dt.datetime] = field(default_factory=list)

    def act(self, index: int) -> None:
        if index == 0:
            self.tracker = self._begin()
        elif index <= self.progress:
            step = self.path[index - 1]
            # Wait steps finish by themselves (the scheduler's work, not a rep's).
            actor = None if step.type == StepType.WAIT else self.actor
            lifecycle.complete_step(self.tracker, actor=actor)
        else:
            self.ending(self)

    def _begin(self) -> ActionCadenceTracker:
        if self.kind == "initializing":
            return _initializing_tracker(self)
        return lifecycle.assign_target(
            self.target,
            self.cadence,
            actor=self.actor,
            owner=self.owner,
            related_to=self.related_to,
            attribution_type=self.attribution,
        )


def _initializing_tracker(story: Story) -> ActionCadenceTracker:
    """A tracker caught between its creation and its first step. ``assign_target`` passes
    through Initializing within one transaction, so the demo writes the row as that
    transaction's first half does."""
    with lifecycle._transition(story.actor, "assign") as tx:
        tracker = ActionCadenceTracker(
            action_cadence=story.cadence,
            state=TrackerState.INITIALIZING,
            owner_user=story.owner if isinstance(story.owner, User) else None,
            owner_queue=story.owner if isinstance(story.owner, Group) else None,
            target_lead=story.target if isinstance(story.target, Lead) else None,
            target_contact=story.target if isinstance(story.target, Contact) else None,
            related_opportunity=story.related_to
            if isinstance(story.related_to, Opportunity)
            else None,
            related_invoice=story.related_to if isinstance(story.related_to, Invoice) else None,
            related_to_attribution_type=story.attribution,
            daisy_chain_iteration=1,
        )
        tracker.stamp(tx.actor, tx.now)
        tracker.save()
        tracker.is_tracker_active = True
        tx.record(tracker, ChangeType.CREATE)
    return tracker


def _remove(disposition: str | None) -> Callable[[Story], Any]:
    return lambda story: lifecycle.remove_target(
        story.tracker, actor=story.actor, disposition=disposition
    )


def _pause(resume_at: dt.datetime | None) -> Callable[[Story], Any]:
    return lambda story: lifecycle.pause(story.tracker, actor=story.actor, resume_at=resume_at)


def _exit(event: str) -> Callable[[Story], Any]:
    return lambda story: lifecycle.exit_event(story.target, event)


def _error(message: str) -> Callable[[Story], Any]:
    return lambda story: lifecycle.mark_error(story.tracker, message)


def _convert(story: Story) -> None:
    lifecycle.lead_converted(story.target, actor=story.actor)
    Lead.objects.filter(pk=story.target.pk).update(status="Closed - Converted")


def _step_gone(reason: str) -> Callable[[Story], Any]:
    """The step the tracker was on was deleted from the cadence (or lost its parent).

    Editing a live cadence is not a product action, so no public lifecycle call
    ends a tracker this way; the lifecycle's own completion does, keeping every
    invariant and writing the change event.
    """

    def end(story: Story) -> None:
        with lifecycle._transition(None, "cadence edited") as tx:
            tracker = lifecycle._lock(story.tracker)
            lifecycle._complete(
                tx,
                tracker,
                expected_state=tracker.state,
                reason=reason,
                step_reason=StepTrackerCompletionReason.AUTOMATICALLY_EXITED,
            )

    return end


class DemoHistory:
    """About ``tracker_count`` trackers over the last 90 days.

    A showcase of stories covering every State and CompletionReason is played through
    the lifecycle, action by action in time order, so those trackers have full step
    timelines and change histories. The lifecycle costs tens of milliseconds a call,
    so the bulk of the volume (for dashboards and lists) comes from the bulk writer,
    with realistic states, reasons, dates and CREATE events, in a fraction of the time.
    """

    def __init__(self, org: DemoOrg, tracker_count: int, rng: random.Random) -> None:
        self.org = org
        self.rng = rng
        self.tracker_count = tracker_count
        self.showcase_count = max(SHOWCASE_MINIMUM, round(tracker_count * SHOWCASE_SHARE))
        self.now = timezone.now()
        self.start = self.now - dt.timedelta(days=HISTORY_DAYS)
        self.latest = self.now - dt.timedelta(minutes=10)
        self.cadences: dict[str, ActionCadence] = {}
        self.paths: dict[str, list[ActionCadenceStep]] = {}
        self.exit_events: dict[str, Sequence[str]] = {}
        self.opportunities: list[Opportunity] = []
        self.invoices: list[Invoice] = []
        self.leads: list[Lead] = []
        self.contacts: list[Contact] = []

    def write(self) -> None:
        with _clock(self.start - dt.timedelta(days=7)) as set_time:
            self._build_catalog()
            stories = self._plan()
            showcased = sum(1 + (story.kind == "daisy_chained") for story in stories)
            self._write_bulk(max(0, self.tracker_count - showcased))
            for when, _, story, index in self._schedule(stories):
                set_time(when)
                story.act(index)
            set_time(self.latest)
            self._recycle_some(stories)
            legacy = self.cadences[LEGACY]
            legacy.state = CadenceState.INACTIVE
            legacy.stamp(legacy.owner)
            legacy.save()
        self._start_bulk_removal()

    # ---- the catalog (dated before the history starts)

    def _build_catalog(self) -> None:
        users = self.org.users
        for name, owner, state, kind, description, steps, events in CADENCES:
            cadence = create_cadence(
                name,
                owner=users[owner],
                steps=steps,
                exit_events=events,
                state=state,
                cadence_type=kind,
                description=description,
            )
            self.cadences[name] = cadence
            self.paths[name] = main_path(cadence)
            self.exit_events[name] = events
        # A branch condition, so every common rule type is on show.
        rule = ActionCadenceRule(
            action_cadence=self.cadences[INBOUND],
            rule_name="Connected on a call",
            rule_type=RuleType.BRANCH_STEP,
            global_event_type=E.CALL_MEANINGFUL_CONNECT,
        )
        rule.stamp(users["manager_east"])
        rule.save()
        self._create_targets()
        self._create_deals()

    def _create_targets(self) -> None:
        """Targets for the showcase stories, and a separate pool for the bulk trackers
        (so the two never put one target in two active trackers)."""
        rng = self.rng
        showcase = max(40, round(self.showcase_count * 0.8))
        bulk = max(50, round((self.tracker_count - self.showcase_count) * 0.6))
        reps = [self.org.users[name] for name in REPS]
        combinations = list(itertools.product(FIRST_NAMES, LAST_NAMES))
        people = rng.sample(combinations, min(showcase + bulk, len(combinations)))
        people += [rng.choice(combinations) for _ in range(showcase + bulk - len(people))]
        leads, contacts = [], []
        for index, (first, last) in enumerate(people):
            company, domain = rng.choice(COMPANIES)
            common = {
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}@{domain}".lower(),
                **self._stamp_before_history(rng.choice(reps)),
            }
            # Six in ten are leads, in both pools.
            if index % 5 < 3:
                leads.append(Lead(company=company, status=rng.choice(LEAD_STATUSES), **common))
            else:
                contacts.append(Contact(title=rng.choice(TITLES), **common))
        leads = Lead.objects.bulk_create(leads)
        contacts = Contact.objects.bulk_create(contacts)
        split_leads, split_contacts = showcase * 3 // 5, showcase - showcase * 3 // 5
        self.leads, self.bulk_leads = leads[:split_leads], leads[split_leads:]
        self.contacts, self.bulk_contacts = contacts[:split_contacts], contacts[split_contacts:]

    def _create_deals(self) -> None:
        rng = self.rng
        owner = self.org.users["manager_east"]
        self.opportunities = Opportunity.objects.bulk_create(
            Opportunity(
                name=f"{company} — {rng.choice(PRODUCTS)}",
                stage_name=rng.choice(STAGES),
                amount=Decimal(rng.randrange(5_000, 250_000, 500)),
                close_date=(self.now + dt.timedelta(days=rng.randint(10, 120))).date(),
                **self._stamp_before_history(owner),
            )
            for company, _ in COMPANIES
        )
        self.invoices = Invoice.objects.bulk_create(
            Invoice(
                document_number=f"INV-{self.now.year}-{number:04d}",
                status=rng.choice(("Posted", "Posted", "Draft")),
                total_amount=Decimal(rng.randrange(1_000, 60_000, 50)),
                **self._stamp_before_history(owner),
            )
            for number in range(1, 26)
        )

    def _stamp_before_history(self, user: User) -> dict[str, Any]:
        created = self.start - dt.timedelta(days=self.rng.uniform(7, 60))
        return {
            "created_date": created,
            "created_by": user,
            "last_modified_date": created,
            "last_modified_by": user,
            "system_modstamp": created,
        }

    # ---- planning

    def _plan(self) -> list[Story]:
        counts = {
            kind: max(floor, round(share * self.showcase_count)) for kind, share, floor in STORY_MIX
        }
        trackers = sum(counts.values()) + counts["daisy_chained"]
        counts["running"] = max(5, self.showcase_count - trackers)
        stories = [self._story(kind) for kind, count in counts.items() for _ in range(count)]
        removals = [story for story in stories if story.kind == "removed"]
        dispositions = [*CompletionDisposition.values, None]
        for index, story in enumerate(removals):
            story.ending = _remove(dispositions[index % len(dispositions)])
        self._assign_targets(stories)
        return stories

    def _story(self, kind: str) -> Story:
        rng = self.rng
        if kind == "daisy_chained":
            name = OUTBOUND
        elif kind in ("no_more_steps", "removed", "exited") and rng.random() < 0.1:
            name = LEGACY
        elif kind == "no_more_steps":
            # Finishing Outbound hands over to nurture instead.
            name = rng.choice([name for name in ENROLLING if name != OUTBOUND])
        else:
            name = rng.choice(ENROLLING)
        if rng.random() < 0.12:
            owner = self.org.groups["Inbound_Queue"]
            actor = self.org.users[rng.choice(QUEUE_MEMBERS)]
        else:
            owner = actor = self.org.users[rng.choice(REPS)]
        story = Story(
            kind=kind, cadence=self.cadences[name], path=self.paths[name], owner=owner, actor=actor
        )
        if name == RENEWAL and rng.random() < 0.7:
            story.related_to = rng.choice(self.invoices)
            story.attribution = rng.choice(
                (
                    RelatedToAttributionType.COLLECTED,
                    RelatedToAttributionType.COLLECTION_ADVANCEMENT,
                    None,
                )
            )
        elif name != RENEWAL and rng.random() < 0.2:
            story.related_to = rng.choice(self.opportunities)
            story.attribution = rng.choice(
                (RelatedToAttributionType.ACTIVATION, RelatedToAttributionType.MATURATION, None)
            )
        self._decide_fate(story)
        return story

    def _decide_fate(self, story: Story) -> None:
        """How many steps the story completes, and how it ends."""
        rng = self.rng
        kind = story.kind
        # Stopping before the last step keeps it running (Outbound: before the hand-over).
        story.progress = rng.randrange(len(story.path))
        if kind in ("no_more_steps", "daisy_chained"):
            story.progress = len(story.path)
        elif kind == "initializing":
            story.progress = 0
        elif kind == "exited":
            story.ending = _exit(rng.choice(self.exit_events[story.cadence.name]))
        elif kind == "paused":
            story.ending = _pause(None)
        elif kind == "paused_until":
            story.ending = _pause(self.now + dt.timedelta(days=rng.uniform(1, 10)))
        elif kind == "error":
            story.ending = _error(rng.choice(ERROR_MESSAGES))
        elif kind == "lead_converted":
            story.ending = _convert
        elif kind == "deleted_step":
            story.ending = _step_gone(CompletionReason.AUTOMATICALLY_EXITED_DELETED_STEP)
        elif kind == "invalid_parent_step":
            story.ending = _step_gone(CompletionReason.AUTOMATICALLY_EXITED_INVALID_PARENT_STEP)

    def _assign_targets(self, stories: list[Story]) -> None:
        """One target per active, converted or broken tracker; finished ones reuse targets."""
        rng = self.rng
        converting = [story for story in stories if story.kind == "lead_converted"]
        staying = [
            story
            for story in stories
            if story.kind in LAST_FOR_TARGET and story.kind != "lead_converted"
        ]
        leads = rng.sample(self.leads, len(self.leads))
        converted, others = leads[: len(converting)], leads[len(converting) :] + self.contacts
        rng.shuffle(others)
        if len(converted) < len(converting) or len(others) < len(staying):
            raise ValueError("Not enough demo targets for the trackers planned.")
        for story, target in zip(converting + staying, converted + others, strict=False):
            story.target = target
        everyone = self.leads + self.contacts
        for story in stories:
            if story.target is None:
                story.target = rng.choice(everyone)

    # ---- the bulk of the volume

    def _write_bulk(self, count: int) -> None:
        if count <= 0:
            return
        rng = self.rng
        active = min(round(count * BULK_ACTIVE_SHARE), len(self.bulk_leads + self.bulk_contacts))
        targets = [TargetRef(lead.pk, None, lead.sf_id) for lead in self.bulk_leads] + [
            TargetRef(None, contact.pk, contact.sf_id) for contact in self.bulk_contacts
        ]
        rng.shuffle(targets)
        # Leads that converted at the end of their cadence; never active again.
        converted = [target for target in targets[active:] if target.lead_id][: count // 25]
        Lead.objects.filter(pk__in=[target.lead_id for target in converted]).update(
            is_converted=True, status="Closed - Converted"
        )
        users, queue = self.org.users, self.org.groups["Inbound_Queue"]
        worker = users[QUEUE_MEMBERS[0]]
        owners = [
            OwnerRef(users[name].pk, None, users[name].sf_id, users[name].pk, users[name].sf_id)
            for name in REPS
        ]
        owners.append(OwnerRef(None, queue.pk, queue.sf_id, worker.pk, worker.sf_id))
        cadences = [CadenceRef.of(self.cadences[name]) for name in ENROLLING]
        cadences.append(CadenceRef.of(self.cadences[LEGACY], enrolls=False))
        related = [RelatedRef(deal.pk, None, deal.sf_id) for deal in self.opportunities] + [
            RelatedRef(None, invoice.pk, invoice.sf_id) for invoice in self.invoices
        ]
        BulkTrackerWriter(
            cadences=cadences,
            owners=owners,
            related=related,
            mix=BULK_MIX,
            now=self.latest,
            history_days=HISTORY_DAYS,
            active_days=HISTORY_DAYS * 2 / 3,
            rng=rng,
            change_events=True,
            origin="demo import",
        ).write(
            total=count,
            active=active,
            active_targets=targets[:active],
            history_targets=targets,
            converted_leads=converted,
        )

    # ---- timing

    def _schedule(self, stories: list[Story]) -> list[tuple[dt.datetime, int, Story, int]]:
        """Date every action. A target's stories follow one another (the one that leaves
        it active or converted comes last); still-active trackers were touched lately."""
        rng = self.rng
        lanes: dict[int, list[Story]] = {}
        for story in sorted(stories, key=lambda story: story.kind in LAST_FOR_TARGET):
            lanes.setdefault(id(story.target), []).append(story)
        sequence = itertools.count()
        actions = []
        for lane in lanes.values():
            # Before each story a pause of some days, then the time before each action.
            offsets = [
                [dt.timedelta(days=rng.uniform(1, 12)), *self._durations(story)] for story in lane
            ]
            total = sum((sum(parts, dt.timedelta()) for parts in offsets), dt.timedelta())
            last = lane[-1].kind
            if last == "initializing":
                end = self.now - dt.timedelta(minutes=rng.uniform(1, 30))
            elif last in STILL_ACTIVE:
                end = self.latest - dt.timedelta(days=rng.uniform(0, 6))
            else:
                end = None
            room = (end or self.latest) - self.start
            scale = min(1.0, room / total) if total else 1.0
            if end is not None:
                moment = end - total * scale
            else:
                moment = self.start + (room - total * scale) * rng.random()
            for story, parts in zip(lane, offsets, strict=True):
                moment += parts[0] * scale
                for offset in parts[1:]:
                    moment += offset * scale
                    story.times.append(moment)
                for index, when in enumerate(story.times):
                    actions.append((when, next(sequence), story, index))
        actions.sort(key=lambda action: action[:2])
        return actions

    def _durations(self, story: Story) -> list[dt.timedelta]:
        """The time before each action: the assignment, each completed step, the ending."""
        rng = self.rng
        offsets = [dt.timedelta()]
        for step in story.path[: story.progress]:
            if step.type == StepType.WAIT:
                waited = dt.timedelta(seconds=step.wait_time_in_seconds)
                offsets.append(waited + dt.timedelta(minutes=rng.uniform(1, 120)))
            else:
                offsets.append(dt.timedelta(hours=rng.uniform(1, 36)))
        if story.ending is not None:
            offsets.append(dt.timedelta(hours=rng.uniform(1, 72)))
        return offsets

    # ---- the last touches

    def _recycle_some(self, stories: list[Story]) -> None:
        """A few recent removals were deleted: the recycle bin has something to restore."""
        recent = self.latest - dt.timedelta(days=10)
        removed = [
            story
            for story in stories
            if story.kind == "removed"
            and story.times[-1] > recent
            and isinstance(story.owner, User)
        ]
        for story in removed[:RECYCLED]:
            lifecycle.delete_tracker(story.tracker, actor=story.actor)

    def _start_bulk_removal(self) -> None:
        """A bulk removal the East manager has just asked for: the job waits for a
        worker, so its trackers show as Processing until one runs it."""
        east = [self.org.users[name] for name in REPS if name.startswith("rep_east")]
        running = ActionCadenceTracker.objects.filter(
            action_cadence__in=self.cadences.values(),
            state=TrackerState.RUNNING,
            owner_user__in=east,
        ).order_by("-last_modified_date")
        lifecycle.start_bulk(
            BulkAction.REMOVE,
            list(running.values_list("pk", flat=True)[: max(3, self.tracker_count // 100)]),
            actor=self.org.users["manager_east"],
            disposition=CompletionDisposition.NO_RESPONSE,
        )


def seed(tracker_count: int = DEFAULT_TRACKERS, *, random_seed: int = 2026) -> DemoOrg:
    """Build the whole demo in one transaction: all of it, or (on any error) none of it."""
    with transaction.atomic():
        org = ensure_org()
        DemoHistory(org, tracker_count, random.Random(random_seed)).write()
        # Rules last: one recalculation shares the whole history at once.
        ensure_sharing_rules(org)
        add_manual_shares(org)
    return org


# (owner, grantee, access): a rep asks a colleague outside their team to help out.
MANUAL_SHARES = (
    ("rep_west_1", "rep_east_2", AccessLevel.EDIT),
    ("rep_west_2", "rep_east_3", AccessLevel.READ),
    ("rep_east_1", "salesops", AccessLevel.EDIT),
)


def add_manual_shares(org: DemoOrg, per_owner: int = 3) -> None:
    """A few Manual shares, made the way a rep makes them (through sharing.services)."""
    from sharing.services import share_tracker

    for owner, grantee, level in MANUAL_SHARES:
        owned = ActionCadenceTracker.objects.filter(
            owner_user=org.users[owner], state=TrackerState.RUNNING
        ).order_by("pk")[:per_owner]
        for tracker in owned:
            share_tracker(tracker, org.users[grantee], level, actor=org.users[owner])


def summary() -> str:
    """'3,012 trackers: 1,020 Running, 210 Paused, ...' for the command's last line."""
    by_state = dict(
        ActionCadenceTracker.objects.filter(action_cadence__name__in=CADENCE_NAMES)
        .values_list("state")
        .annotate(count=Count("pk"))
    )
    total = sum(by_state.values())
    states = ", ".join(f"{count:,} {state}" for state, count in sorted(by_state.items()))
    return f"{total:,} trackers ({states})"
