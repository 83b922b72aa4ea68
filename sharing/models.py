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

    class Meta:
        verbose_name = "org-wide default"
        verbose_name_plural = "org-wide defaults"

    def __str__(self) -> str:
        return f"{self.name}: trackers {self.get_tracker_default_access_display()}"

    @classmethod
    def get(cls) -> Organization:
        org, _ = cls.objects.get_or_create(pk=1)
        return org
