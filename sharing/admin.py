"""Admin for who is who: users, roles, groups and queues, and the org-wide default.

``SObjectAdmin`` is the base for every Salesforce-style object the admin edits
(here and in ``trackers.admin``): it shows the standard system fields read-only
and stamps CreatedBy / LastModifiedBy / SystemModstamp on every save, inlines
included.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from sharing.models import Group, GroupMember, Organization, User, UserRole

SYSTEM_FIELDS = (
    "sf_id",
    "created_date",
    "created_by",
    "last_modified_date",
    "last_modified_by",
    "system_modstamp",
)


class SObjectAdmin(admin.ModelAdmin):
    """Editable Salesforce-style objects: system fields read-only, stamped on save."""

    readonly_fields = SYSTEM_FIELDS

    def get_fieldsets(self, request: HttpRequest, obj=None):
        if self.fieldsets:
            return super().get_fieldsets(request, obj)
        fields = [name for name in self.get_fields(request, obj) if name not in SYSTEM_FIELDS]
        fieldsets = [(None, {"fields": fields})]
        if obj is not None:  # nothing to show before the record exists
            fieldsets.append(("System fields", {"fields": SYSTEM_FIELDS, "classes": ["collapse"]}))
        return fieldsets

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        obj.stamp(request.user)
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        for instance in formset.save(commit=False):
            instance.stamp(request.user)
            instance.save()
        for instance in formset.deleted_objects:
            instance.delete()
        formset.save_m2m()


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Salesforce", {"fields": ("sf_id", "role")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Salesforce", {"fields": ("role",)}),
    )
    readonly_fields = ("sf_id",)
    list_display = ("username", "sf_id", "email", "first_name", "last_name", "role", "is_staff")
    list_filter = (*DjangoUserAdmin.list_filter, "role")
    list_select_related = ("role",)
    search_fields = (*DjangoUserAdmin.search_fields, "=sf_id")
    autocomplete_fields = ("role",)


@admin.register(UserRole)
class UserRoleAdmin(SObjectAdmin):
    list_display = ("name", "developer_name", "parent_role", "sf_id")
    list_select_related = ("parent_role",)
    search_fields = ("name", "developer_name", "=sf_id")
    autocomplete_fields = ("parent_role",)


class GroupMemberInline(admin.TabularInline):
    model = GroupMember
    fk_name = "group"  # member_group points at Group too
    fields = ("member_user", "member_group", "sf_id")
    readonly_fields = ("sf_id",)
    # Users and groups can be many: raw ids with the lookup popup, never a full <select>.
    raw_id_fields = ("member_user", "member_group")
    extra = 0


@admin.register(Group)
class GroupAdmin(SObjectAdmin):
    list_display = (
        "name",
        "developer_name",
        "type",
        "related_role",
        "does_include_bosses",
        "sf_id",
    )
    list_filter = ("type", "does_include_bosses")
    list_select_related = ("related_role",)
    search_fields = ("name", "developer_name", "=sf_id")
    autocomplete_fields = ("related_role",)
    inlines = (GroupMemberInline,)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    """The org-wide default is one row: the list goes straight to it; no add, no delete."""

    list_display = ("name", "tracker_default_access")
    fields = ("name", "tracker_default_access")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not Organization.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)  # the usual 403
        org = Organization.get()
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:sharing_organization_change", args=[org.pk])
        )
