"""Registry declarations for the sharing app's objects."""

from cadence_site.registry import F, SObjectType, register
from sharing import models as m

register(
    SObjectType(
        name="User",
        model=m.User,
        label="User",
        label_plural="Users",
        system_fields=False,
        calls=frozenset({"describeSObjects", "query", "retrieve", "update"}),
        fields=(
            F("Username", "string", "Filter Group Sort", attr="username", length=150),
            F("FirstName", "string", "Filter Group Nillable Sort", attr="first_name", length=150),
            F("LastName", "string", "Filter Group Sort", attr="last_name", length=150),
            F("Name", "string", "Filter Group Sort", attr="name", length=301),
            F("Email", "email", "Filter Group Sort", attr="email", length=254),
            F("IsActive", "boolean", "Defaulted Filter Group Sort", attr="is_active"),
            F(
                "UserRoleId",
                "reference",
                "Filter Group Nillable Sort Update",
                attr="role",
                to="UserRole",
                rel="UserRole",
            ),
        ),
    )
)

register(
    SObjectType(
        name="UserRole",
        model=m.UserRole,
        label="Role",
        label_plural="Roles",
        fields=(
            F("Name", "string", "Filter Group Sort Create Update", attr="name", length=80),
            F(
                "DeveloperName",
                "string",
                "Filter Group Sort Create Update",
                attr="developer_name",
                length=80,
            ),
            F(
                "ParentRoleId",
                "reference",
                "Filter Group Nillable Sort Create Update",
                attr="parent_role",
                to="UserRole",
                rel="ParentRole",
            ),
        ),
    )
)

register(
    SObjectType(
        name="Group",
        model=m.Group,
        label="Group",
        label_plural="Groups",
        fields=(
            F("Name", "string", "Filter Group Sort Create Update", attr="name", length=40),
            F(
                "DeveloperName",
                "string",
                "Filter Group Sort Create Update",
                attr="developer_name",
                length=80,
            ),
            F(
                "Type",
                "picklist",
                "Filter Group Restricted Sort Create",
                attr="type",
                length=255,
                picklist=[choice.value for choice in m.Group.Type],
            ),
            F(
                "RelatedId",
                "reference",
                "Filter Group Nillable Sort",
                attr="related_role",
                to="UserRole",
                rel="Related",
            ),
            F(
                "DoesIncludeBosses",
                "boolean",
                "Defaulted Filter Group Sort Create Update",
                attr="does_include_bosses",
            ),
        ),
    )
)

register(
    SObjectType(
        name="GroupMember",
        model=m.GroupMember,
        label="Group Member",
        label_plural="Group Members",
        calls=frozenset({"create", "delete", "describeSObjects", "query", "retrieve"}),
        fields=(
            F(
                "GroupId",
                "reference",
                "Filter Group Sort Create",
                attr="group",
                to="Group",
                rel="Group",
            ),
            F(
                "UserOrGroupId",
                "reference",
                "Filter Group Sort Create",
                to=("User", "Group"),
                columns={"User": "member_user", "Group": "member_group"},
            ),
        ),
    )
)

register(
    SObjectType(
        name="ActionCadenceTrackerOwnerSharingRule",
        model=m.ActionCadenceTrackerOwnerSharingRule,
        label="Action Cadence Tracker Owner Sharing Rule",
        label_plural="Action Cadence Tracker Owner Sharing Rules",
        calls=frozenset({"create", "update", "delete", "describeSObjects", "query", "retrieve"}),
        fields=(
            F("Name", "string", "Filter Group Sort Create Update", attr="name", length=80),
            F(
                "DeveloperName",
                "string",
                "Filter Group Sort Create Update",
                attr="developer_name",
                length=80,
            ),
            F(
                "Description",
                "textarea",
                "Nillable Create Update",
                attr="description",
                length=1000,
            ),
            F(
                "GroupId",
                "reference",
                "Filter Group Sort Create Update",
                attr="group",
                to="Group",
                rel="Group",
            ),
            F(
                "UserOrGroupId",
                "reference",
                "Filter Group Sort Create Update",
                to=("User", "Group"),
                columns={"User": "share_with_user", "Group": "share_with_group"},
            ),
            F(
                "AccessLevel",
                "picklist",
                "Filter Group Restricted Sort Create Update",
                attr="access_level",
                length=255,
                picklist=["Read", "Edit"],
            ),
        ),
    )
)

register(
    SObjectType(
        name="ActionCadenceTrackerShare",
        model=m.ActionCadenceTrackerShare,
        label="Action Cadence Tracker Share",
        label_plural="Action Cadence Tracker Shares",
        calls=frozenset({"create", "update", "delete", "describeSObjects", "query", "retrieve"}),
        fields=(
            F(
                "ParentId",
                "reference",
                "Filter Group Sort Create",
                attr="parent",
                to="ActionCadenceTracker",
                rel="Parent",
            ),
            F(
                "UserOrGroupId",
                "reference",
                "Filter Group Sort Create",
                to=("User", "Group"),
                columns={"User": "user", "Group": "group"},
            ),
            F(
                "AccessLevel",
                "picklist",
                "Filter Group Restricted Sort Create Update",
                attr="access_level",
                length=255,
                picklist=[choice.value for choice in m.AccessLevel],
            ),
            F(
                "RowCause",
                "picklist",
                "Filter Group Restricted Sort Defaulted Create",
                attr="row_cause",
                length=255,
                picklist=[choice.value for choice in m.RowCause],
            ),
        ),
    )
)
