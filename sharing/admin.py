"""Admin for who is who and who sees what: users, roles, groups and queues, the
org-wide default, owner sharing rules, tracker shares, API tokens, and the
"why can this user see this tracker?" page.

``cadence_site.admin_base.SObjectAdmin`` is the base for every Salesforce-style
object the admin edits (here and in ``trackers.admin``).

Sharing rules and manual shares change only through ``sharing.services``
(``save_rule``, ``share_tracker``, ``remove_share``), which validate, check
access and recalculate; Rule share rows are read-only for everyone. Tracker
shares read through ``TrackerVisibilityMixin``, the admin's side of the one
visibility chokepoint.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers, widgets
from django.contrib.auth import get_permission_codename
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from cadence_site import sfid
from cadence_site.admin_base import SYSTEM_FIELDS, SObjectAdmin
from sharing import access, recalc, services
from sharing.models import (
    AccessLevel,
    ApiToken,
    Group,
    GroupMember,
    Organization,
    RowCause,
    User,
    UserRole,
)
from sharing.models import ActionCadenceTrackerOwnerSharingRule as SharingRule
from sharing.models import ActionCadenceTrackerShare as TrackerShare
from sharing.services import SharingError
from trackers.admin import TrackerRecordAdmin, plural, refuse_too_many
from trackers.models import ActionCadenceTracker


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


# --------------------------------------------------------------------------- sharing

# access.access_level() answers "read", "edit" or "all"; people read the picklist labels.
LEVEL_LABELS = {level.value.lower(): level.label for level in AccessLevel}
MANUAL_LEVELS = [(level.value, level.label) for level in (AccessLevel.READ, AccessLevel.EDIT)]


def has_model_permission(model_admin: admin.ModelAdmin, request: HttpRequest, action: str) -> bool:
    """Django's plain model permission (what ``ModelAdmin.has_<action>_permission`` checks)."""
    opts = model_admin.opts
    return request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")


class OneGranteeForm(forms.ModelForm):
    """Share with a user or a group: exactly one. The model's check constraint says the
    same in words nobody would understand; an error on a field also skips that check."""

    grantee_fields: tuple[str, str]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user_field, group_field = self.grantee_fields
        if not {user_field, group_field} <= set(self.fields) or (
            {user_field, group_field} & set(self.errors)
        ):
            return cleaned  # a read-only grantee, or one already refused
        user, group = cleaned.get(user_field), cleaned.get(group_field)
        if user and group:
            self.add_error(group_field, "Share with a user or a group, not both.")
        elif not user and not group:
            self.add_error(user_field, "Choose the user or the group to share with.")
        return cleaned


class SharingRuleForm(OneGranteeForm):
    grantee_fields = ("share_with_user", "share_with_group")

    class Meta:
        model = SharingRule
        fields = (
            "name",
            "developer_name",
            "description",
            "group",
            "share_with_user",
            "share_with_group",
            "access_level",
        )


class TrackerShareForm(OneGranteeForm):
    grantee_fields = ("user", "group")

    class Meta:
        model = TrackerShare
        fields = ("parent", "user", "group", "access_level")


@admin.display(description="UserOrGroupId")
def grantee_column(record: SharingRule | TrackerShare) -> str:
    return str(record.grantee)


@admin.register(SharingRule)
class SharingRuleAdmin(SObjectAdmin):
    """Owner sharing rules. Every save goes through ``services.save_rule`` (DeveloperName
    rules, then the rule's share rows recalculated inline or queued for a worker)."""

    form = SharingRuleForm
    change_list_template = "admin/sharing/change_list_with_explain.html"
    list_display = (
        "name",
        "developer_name",
        "group",
        grantee_column,
        "access_level",
        "trackers_shared",
    )
    list_select_related = ("group", "share_with_user", "share_with_group")
    list_filter = ("access_level",)
    show_full_result_count = False
    search_fields = ("name", "developer_name", "=sf_id")
    # Users and groups can be many: searched by name, never a <select> of all of them.
    autocomplete_fields = ("group", "share_with_user", "share_with_group")
    actions = ("recalculate_now",)

    def rule_rows(self, request: HttpRequest) -> QuerySet:
        """Rule share rows of live trackers the user can read: the count a staff user
        sees reveals no more than their tracker list does."""
        readable = ActionCadenceTracker.objects.visible_to(request.user, "read")
        return TrackerShare.objects.filter(
            row_cause=RowCause.RULE, parent__in=readable.values("pk")
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        counted = (
            self.rule_rows(request)
            .filter(rule=OuterRef("pk"))
            .order_by()
            .values("rule")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                tracker_count=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
            )
        )

    @admin.display(description="trackers shared", ordering="tracker_count")
    def trackers_shared(self, rule: SharingRule) -> int:
        return rule.tracker_count

    def save_model(self, request: HttpRequest, obj: SharingRule, form: Any, change: bool) -> None:
        if services.save_rule(obj, actor=request.user) == "queued":
            self.message_user(
                request,
                f"Sharing recalculation for {obj} was queued for a worker; its trackers are "
                "shared when the worker finishes.",
                messages.WARNING,
            )
            return
        shared = self.rule_rows(request).filter(rule=obj).count()
        self.message_user(
            request, f"Sharing recalculated: {plural(shared, 'tracker')} shared by {obj}."
        )

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        """Rule rows go with their rule. Count them rather than list them (a rule can share
        a million trackers), and ask for no permission on them: nobody deletes Rule rows
        by hand, recalculation owns them."""
        rules = list(objs)
        rows = self.rule_rows(request).filter(rule__in=rules).count()
        listed = [f"{self.opts.verbose_name.capitalize()}: {rule}" for rule in rules]
        counts = {
            self.opts.verbose_name_plural: len(rules),
            f"{TrackerShare._meta.verbose_name_plural} (Sharing Rule)": rows,
        }
        return listed, counts, set(), []

    def _report_removed(self, request: HttpRequest, rules: list[SharingRule]) -> None:
        rows = self.rule_rows(request).filter(rule__in=rules).count()
        self.message_user(
            request,
            f"Removed {plural(rows, 'Sharing Rule share')} with the deleted "
            f"{'rule' if len(rules) == 1 else 'rules'}: no tracker is shared through "
            f"{'it' if len(rules) == 1 else 'them'} any more.",
        )

    def delete_model(self, request: HttpRequest, obj: SharingRule) -> None:
        self._report_removed(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._report_removed(request, list(queryset))
        super().delete_queryset(request, queryset)

    @admin.action(description="Recalculate sharing now", permissions=["change"])
    def recalculate_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        rule_ids = list(queryset.values_list("pk", flat=True))
        totals = recalc.recalculate_rules(rule_ids)
        self.message_user(
            request,
            f"Recalculated {plural(len(rule_ids), 'sharing rule')}: "
            f"{plural(totals['added'], 'share row')} added, {totals['removed']:,} removed, "
            f"{totals['updated']:,} updated.",
        )


class ExplainAccessForm(forms.Form):
    tracker = forms.CharField(
        label="Tracker Id", max_length=18, help_text="The tracker's Id, 15 or 18 characters."
    )
    user = forms.CharField(label="Username", max_length=150)

    def clean_tracker(self) -> str:
        try:
            return sfid.normalize(self.cleaned_data["tracker"], ActionCadenceTracker.KEY_PREFIX)
        except sfid.InvalidId:
            raise ValidationError(
                "Enter a tracker Id: 15 or 18 letters and digits starting with "
                f"{ActionCadenceTracker.KEY_PREFIX}."
            ) from None

    def clean_user(self) -> User:
        username = self.cleaned_data["user"]
        user = User.objects.select_related("role").filter(username=username).first()
        if user is None:
            raise ValidationError("No user with this username.")
        return user


class ReadableTrackerIdWidget(widgets.ForeignKeyRawIdWidget):
    """The tracker Id input, naming the tracker only if the user can read it. Django's
    widget looks the typed value up through the default manager, so a refused form
    would otherwise name a tracker the user cannot see."""

    def __init__(self, rel: Any, admin_site: admin.AdminSite, readable: QuerySet, **kwargs):
        super().__init__(rel, admin_site, **kwargs)
        self.readable = readable

    def label_and_url_for_value(self, value: Any) -> tuple[str, str]:
        try:
            readable = self.readable.filter(pk=value).exists()
        except (ValueError, ValidationError):
            readable = False
        return super().label_and_url_for_value(value) if readable else ("", "")


def share_label(share: TrackerShare) -> str:
    return f"Share of tracker {share.parent.sf_id} with {share.grantee}"


@admin.register(TrackerShare)
class TrackerShareAdmin(TrackerRecordAdmin):
    """Who each tracker is shared with, for the trackers the user can read.

    Rule rows are read-only for everyone. Manual rows are added, changed and removed
    only through ``sharing.services``, which needs All access to the tracker (owner,
    a role above the owner, administrators) and says so when it is missing.
    """

    tracker_path = "parent"
    search_id_field = "parent__sf_id"
    search_id_prefix = ActionCadenceTracker.KEY_PREFIX
    search_help_text = "Search by the tracker's Id (15 or 18 characters)."
    form = TrackerShareForm
    change_list_template = "admin/sharing/change_list_with_explain.html"
    list_display = (
        "sf_id",
        "tracker",
        grantee_column,
        "access_level",
        "row_cause",
        "rule",
        "last_modified_date",
    )
    list_select_related = ("parent", "user", "group", "rule")
    list_filter = ("row_cause", "access_level")
    # Trackers, users and groups can be many: raw ids with the lookup popup.
    raw_id_fields = ("parent", "user", "group")
    actions = ("remove_manual_shares",)
    add_fields = ("parent", "user", "group", "access_level")
    detail_fields = ("parent", "user", "group", "access_level", "row_cause", "rule", *SYSTEM_FIELDS)

    @admin.display(description="ParentId", ordering="parent_id")
    def tracker(self, share: TrackerShare) -> str:
        url = reverse("admin:trackers_actioncadencetracker_change", args=[share.parent_id])
        return format_html('<a href="{}">{}</a>', url, share.parent.sf_id)

    # ----------------------------------------------------------------- permissions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return has_model_permission(self, request, "add")

    def has_change_permission(self, request: HttpRequest, obj: TrackerShare | None = None) -> bool:
        return has_model_permission(self, request, "change") and (
            obj is None or obj.row_cause == RowCause.MANUAL
        )

    def has_delete_permission(self, request: HttpRequest, obj: TrackerShare | None = None) -> bool:
        return has_model_permission(self, request, "delete") and (
            obj is None or obj.row_cause == RowCause.MANUAL
        )

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        # Django's bulk delete would skip remove_share and its All-access check.
        actions.pop("delete_selected", None)
        return actions

    # ----------------------------------------------------------------- the form

    def get_fields(self, request: HttpRequest, obj: TrackerShare | None = None) -> tuple:
        return self.add_fields if obj is None else self.detail_fields

    def get_readonly_fields(self, request: HttpRequest, obj: TrackerShare | None = None) -> tuple:
        if obj is None:
            return ()
        # A manual share changes only its level; who and what it shares stay put.
        return tuple(name for name in self.get_fields(request, obj) if name != "access_level")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "parent":
            # Only trackers the user can read are choices; any other Id reads as invalid.
            readable = ActionCadenceTracker.objects.visible_to(request.user, "read")
            kwargs["queryset"] = readable
            kwargs["widget"] = ReadableTrackerIdWidget(
                db_field.remote_field, self.admin_site, readable
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "access_level":
            kwargs["choices"] = MANUAL_LEVELS  # All belongs to owners, never to a share
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    # ----------------------------------------------------------------- writes

    def save_model(self, request: HttpRequest, obj: TrackerShare, form: Any, change: bool) -> None:
        share = services.share_tracker(
            obj.parent, obj.grantee, obj.access_level, actor=request.user
        )
        if not change:
            # The service made (or updated) its own row; the admin's log and redirect
            # name that one.
            obj.pk = share.pk
            obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: TrackerShare) -> None:
        services.remove_share(obj, actor=request.user)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: Any = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SharingError as error:
            # The view's transaction rolled back; back to the form with what was typed.
            self.message_user(request, error.message, messages.ERROR)
            typed = (
                {}
                if object_id
                else {name: value for name in self.add_fields if (value := request.POST.get(name))}
            )
            return HttpResponseRedirect(f"{request.path}?{urlencode(typed)}")

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except SharingError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:sharing_actioncadencetrackershare_change", args=[object_id])
            )

    @admin.action(description="Remove selected manual shares", permissions=["delete"])
    def remove_manual_shares(self, request: HttpRequest, queryset: QuerySet) -> None:
        if refuse_too_many(self, request, queryset, "share"):
            return
        removed = 0
        for share in queryset.select_related("parent", "user", "group"):
            try:
                services.remove_share(share, actor=request.user)
            except SharingError as error:
                self.message_user(request, f"{share_label(share)}: {error.message}", messages.ERROR)
            else:
                removed += 1
        if removed:
            self.message_user(
                request, f"Removed {plural(removed, 'manual share')}.", messages.SUCCESS
            )

    # ----------------------------------------------------------------- explain access

    def get_urls(self) -> list:
        explain = path(
            "explain/",
            self.admin_site.admin_view(self.explain_view),
            name="sharing_actioncadencetrackershare_explain",
        )
        return [explain, *super().get_urls()]

    def explain_view(self, request: HttpRequest) -> HttpResponse:
        """Why can this user see this tracker? Every grant and its source.

        For superusers and users with All access to the tracker (they may share it, so
        they may see who else has it). A tracker the requester cannot read is "not
        found", exactly like one that does not exist.
        """
        data = None
        if request.GET:
            data = request.GET.copy()
            data.setdefault("user", request.user.get_username())  # "why can I see this?"
        form = ExplainAccessForm(data, initial={"user": request.user.get_username()})
        context = {
            **self.admin_site.each_context(request),
            "title": "Why can this user see this tracker?",
            "opts": self.opts,
            "form": form,
            "adminform": helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}),
        }
        status = 200
        if form.is_valid():
            tracker = (
                ActionCadenceTracker.objects.visible_to(request.user, "read")
                .filter(sf_id=form.cleaned_data["tracker"])
                .first()
            )
            subject = form.cleaned_data["user"]
            if tracker is None:
                context["not_found"], status = True, 404
            elif access.access_level(request.user, tracker) != "all":
                context["refused"], status = True, 403
            else:
                level = access.access_level(subject, tracker)
                context.update(
                    tracker=tracker,
                    subject=subject,
                    level=LEVEL_LABELS.get(level or ""),
                    grants=[
                        {**grant, "label": AccessLevel(grant["level"]).label}
                        for grant in access.explain_access(subject, tracker)
                    ],
                )
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/sharing/explain_access.html", context, status=status
        )


# --------------------------------------------------------------------------- API tokens


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Bearer tokens for the API. A token is shown once, when issued; only its digest is
    stored, and the digest is never shown. Non-superusers see and issue only their own."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("user",)
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "=prefix", "user__username")
    raw_id_fields = ("user",)
    actions = ("revoke",)
    detail_fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(user=request.user)

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple:
        if obj is not None:
            return self.detail_fields
        return ("user", "name") if request.user.is_superuser else ("name",)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple:
        return () if obj is None else tuple(f for f in self.detail_fields if f != "name")

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"user": request.user.pk, **super().get_changeform_initial_data(request)}

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        owner = obj.user if request.user.is_superuser else request.user
        token, raw = ApiToken.issue(owner, obj.name)
        obj.pk = token.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            f"The new API token for {owner.get_username()} is {raw} — copy it now: it is "
            "shown only this once and cannot be recovered.",
            messages.WARNING,
        )

    @admin.action(description="Revoke", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request, f"Revoked {plural(revoked, 'API token')}; they no longer authenticate."
        )
