"""Who is who in the org: users, roles, groups and queues, and the org-wide settings.

Users are Django's auth users with a Salesforce Id and a role. A Queue is a
Group of Type Queue; it can own trackers, and its members work them.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from cadence_site.sobject import SalesforceIdMixin, SObject


class UserRole(SObject):
    KEY_PREFIX = "00E"

    name = models.CharField("Name", max_length=80)
    developer_name = models.CharField("DeveloperName", max_length=80, unique=True)
    parent_role = models.ForeignKey(
        "self",
        verbose_name="ParentRoleId",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="child_roles",
    )

    class Meta:
        verbose_name = "user role"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(SalesforceIdMixin, AbstractUser):
    KEY_PREFIX = "005"

    role = models.ForeignKey(
        UserRole,
        verbose_name="UserRoleId",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="users",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    @property
    def name(self) -> str:
        return self.get_full_name() or self.username


class Group(SObject):
    """A Salesforce Group: public group, role group, queue or the whole organization."""

    KEY_PREFIX = "00G"

    class Type(models.TextChoices):
        REGULAR = "Regular", "Regular"
        ROLE = "Role", "Role"
        ROLE_AND_SUBORDINATES = "RoleAndSubordinates", "Role and subordinates"
        QUEUE = "Queue", "Queue"
        ORGANIZATION = "Organization", "Organization"

    name = models.CharField("Name", max_length=40)
    developer_name = models.CharField("DeveloperName", max_length=80, unique=True)
    type = models.CharField("Type", max_length=20, choices=Type.choices, default=Type.REGULAR)
    related_role = models.ForeignKey(
        UserRole,
        verbose_name="RelatedId",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="groups",
        help_text="The role of a Role or RoleAndSubordinates group.",
    )
    does_include_bosses = models.BooleanField("DoesIncludeBosses", default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    type__in=["Regular", "Role", "RoleAndSubordinates", "Queue", "Organization"]
                ),
                name="group_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    type__in=["Role", "RoleAndSubordinates"], related_role__isnull=False
                )
                | (
                    ~models.Q(type__in=["Role", "RoleAndSubordinates"])
                    & models.Q(related_role__isnull=True)
                ),
                name="group_role_iff_role_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


class GroupMember(SObject):
    """A user or a nested group in a group; membership is transitive."""

    KEY_PREFIX = "011"

    group = models.ForeignKey(
        Group, verbose_name="GroupId", on_delete=models.CASCADE, related_name="members"
    )
    member_user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="group_memberships"
    )
    member_group = models.ForeignKey(
        Group, on_delete=models.CASCADE, null=True, blank=True, related_name="parent_memberships"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(member_user__isnull=False, member_group__isnull=True)
                | models.Q(member_user__isnull=True, member_group__isnull=False),
                name="groupmember_exactly_one_member",
            ),
            models.UniqueConstraint(
                fields=["group", "member_user"],
                condition=models.Q(member_user__isnull=False),
                name="groupmember_unique_user",
            ),
            models.UniqueConstraint(
                fields=["group", "member_group"],
                condition=models.Q(member_group__isnull=False),
                name="groupmember_unique_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_user or self.member_group} in {self.group.name}"


class Organization(models.Model):
    """The org's single settings row; also the lock that serialises the active-tracker limit."""

    class TrackerAccess(models.TextChoices):
        PRIVATE = "Private", "Private"
        READ = "Read", "Public Read Only"
        EDIT = "Edit", "Public Read/Write"

    name = models.CharField(max_length=80, default="Cadence Ops")
    tracker_default_access = models.CharField(
        "Default access for ActionCadenceTracker",
        max_length=10,
        choices=TrackerAccess.choices,
        default=TrackerAccess.PRIVATE,
    )
    # Changes with every change to roles, groups, members or users' roles (a new random
    # value each time, so a rolled-back change can never be mistaken for a later one).
    # Processes cache the org graph under it.
    sharing_version = models.CharField(max_length=36, default="initial", editable=False)

    class Meta:
        verbose_name = "org-wide default"
        verbose_name_plural = "org-wide defaults"

    def __str__(self) -> str:
        return f"{self.name}: trackers {self.get_tracker_default_access_display()}"

    @classmethod
    def get(cls) -> Organization:
        org, _ = cls.objects.get_or_create(pk=1)
        return org

    @classmethod
    def bump_sharing_version(cls) -> None:
        import uuid

        if not cls.objects.filter(pk=1).update(sharing_version=str(uuid.uuid4())):
            cls.objects.get_or_create(pk=1, defaults={"sharing_version": str(uuid.uuid4())})


class AccessLevel(models.TextChoices):
    READ = "Read", "Read Only"
    EDIT = "Edit", "Read/Write"
    ALL = "All", "Full Access"


# RowCause: Owner rows are derived from OwnerId (see sharing.access), never stored, so
# they cannot go stale; Manual rows are made by people; Rule rows by recalculation.
class RowCause(models.TextChoices):
    OWNER = "Owner", "Owner"
    MANUAL = "Manual", "Manual Sharing"
    RULE = "Rule", "Sharing Rule"


def validate_developer_name(value: str) -> None:
    """Salesforce's API-name rules: letters, digits and underscores; starts with a
    letter; no trailing underscore and no two underscores in a row."""
    from django.core.exceptions import ValidationError

    if not value or not value[0].isalpha() or not value.isascii():
        raise ValidationError("The DeveloperName must begin with a letter.")
    if not all(char.isalnum() or char == "_" for char in value):
        raise ValidationError("The DeveloperName can only contain letters, digits and underscores.")
    if value.endswith("_") or "__" in value:
        raise ValidationError(
            "The DeveloperName can't end with an underscore or contain two underscores in a row."
        )


class ActionCadenceTrackerOwnerSharingRule(SObject):
    """Share the trackers owned by members of ``group`` with a user or group."""

    KEY_PREFIX = "02c"

    name = models.CharField("Name", max_length=80)
    developer_name = models.CharField(
        "DeveloperName", max_length=80, unique=True, validators=[validate_developer_name]
    )
    description = models.TextField("Description", max_length=1000, blank=True)
    group = models.ForeignKey(
        Group,
        verbose_name="GroupId",
        on_delete=models.CASCADE,
        related_name="source_of_rules",
        help_text="Trackers owned by members of this group (transitively) are shared.",
    )
    share_with_user = models.ForeignKey(
        User,
        verbose_name="UserOrGroupId (User)",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    share_with_group = models.ForeignKey(
        Group,
        verbose_name="UserOrGroupId (Group)",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="receives_rules",
    )
    access_level = models.CharField(
        "AccessLevel",
        max_length=4,
        choices=[(AccessLevel.READ.value, "Read Only"), (AccessLevel.EDIT.value, "Read/Write")],
        default=AccessLevel.READ,
    )

    class Meta:
        verbose_name = "owner sharing rule"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(share_with_user__isnull=False, share_with_group__isnull=True)
                | models.Q(share_with_user__isnull=True, share_with_group__isnull=False),
                name="rule_exactly_one_grantee",
            ),
            models.CheckConstraint(
                condition=models.Q(access_level__in=["Read", "Edit"]),
                name="rule_access_read_or_edit",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def grantee(self) -> models.Model:
        return self.share_with_user or self.share_with_group


class ActionCadenceTrackerShare(SObject):
    """Who a tracker is shared with, beyond its owner. Manual rows are made by people
    with All access; Rule rows belong to recalculation and are read-only."""

    KEY_PREFIX = "02s"

    parent = models.ForeignKey(
        "trackers.ActionCadenceTracker",
        verbose_name="ParentId",
        on_delete=models.CASCADE,
        related_name="shares",
    )
    user = models.ForeignKey(
        User,
        verbose_name="UserOrGroupId (User)",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tracker_shares",
    )
    group = models.ForeignKey(
        Group,
        verbose_name="UserOrGroupId (Group)",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tracker_shares",
    )
    access_level = models.CharField("AccessLevel", max_length=4, choices=AccessLevel.choices)
    row_cause = models.CharField("RowCause", max_length=10, choices=RowCause.choices)
    rule = models.ForeignKey(
        ActionCadenceTrackerOwnerSharingRule,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="shares",
    )

    class Meta:
        verbose_name = "tracker share"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, group__isnull=True)
                | models.Q(user__isnull=True, group__isnull=False),
                name="share_exactly_one_grantee",
            ),
            models.CheckConstraint(
                condition=models.Q(access_level__in=["Read", "Edit", "All"]),
                name="share_access_level_valid",
            ),
            # Owner rows are derived, never stored.
            models.CheckConstraint(
                condition=models.Q(row_cause__in=["Manual", "Rule"]),
                name="share_row_cause_stored",
            ),
            models.CheckConstraint(
                condition=models.Q(row_cause="Rule", rule__isnull=False)
                | models.Q(row_cause="Manual", rule__isnull=True),
                name="share_rule_iff_rule_cause",
            ),
            models.UniqueConstraint(
                fields=["parent", "user"],
                condition=models.Q(row_cause="Manual", user__isnull=False),
                name="share_manual_unique_user",
            ),
            models.UniqueConstraint(
                fields=["parent", "group"],
                condition=models.Q(row_cause="Manual", group__isnull=False),
                name="share_manual_unique_group",
            ),
            models.UniqueConstraint(fields=["rule", "parent"], name="share_rule_unique_parent"),
        ]
        indexes = [
            models.Index(fields=["user", "parent"], name="share_user_parent"),
            models.Index(fields=["group", "parent"], name="share_group_parent"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.parent.sf_id} → {self.user or self.group} "
            f"({self.access_level}, {self.row_cause})"
        )

    @property
    def grantee(self) -> models.Model:
        return self.user or self.group


class ApiToken(models.Model):
    """A bearer token for the API. It acts as its user, with that user's sharing.

    Only a SHA-256 digest is stored; the token itself is shown once, when made.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=8, editable=False, db_index=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user.username})"

    @staticmethod
    def hash(raw: str) -> str:
        import hashlib

        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, name: str = "") -> tuple[ApiToken, str]:
        """Make a token; returns (row, the raw token to hand to the user once)."""
        import secrets

        raw = "cdo_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, prefix=raw[:8], digest=cls.hash(raw))
        return token, raw

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class LoginAttempt(models.Model):
    """Failed logins for one username from one address, for login throttling.

    Kept in the database (not in process memory) so the count holds across every
    gunicorn worker and host. A row exists only while there are recent failures;
    a successful login deletes it. See ``sharing.login``.
    """

    username = models.CharField(max_length=150)
    ip_address = models.GenericIPAddressField()
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    last_failure_at = models.DateTimeField(db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["username", "ip_address"], name="login_attempt_one_row_per_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.username} from {self.ip_address}: {self.failures} failed"
