"""Django admin for the cadence objects.

Trackers are never edited field by field: their admin pages are read-only and
every change goes through ``trackers.lifecycle`` as an admin action (remove
with a CompletionDisposition, pause, resume, delete to the recycle bin,
restore), each reporting per-tracker failures as messages. Every tracker-related
admin reads through ``TrackerVisibilityMixin``, the admin's side of the one
sharing chokepoint. Tracker column headers and detail labels are Salesforce API
names, read from the object registry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import display_for_value
from django.contrib.admin.views.main import PAGE_VAR
from django.contrib.auth import get_permission_codename
from django.core.exceptions import ImproperlyConfigured
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

import trackers.sobjects  # noqa: F401  (registers the declarations the columns read)
from cadence_site import registry, sfid
from cadence_site.admin_base import SYSTEM_FIELDS, SObjectAdmin
from trackers import lifecycle
from trackers.choices import BulkAction, CadenceState, CompletionDisposition, StepType
from trackers.forms import AddToCadenceForm, RemoveFromCadenceForm
from trackers.models import (
    ActionCadence,
    ActionCadenceRule,
    ActionCadenceStep,
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
    BulkJob,
    Contact,
    Invoice,
    Lead,
    Opportunity,
    RecycleBinTracker,
)

EMPTY = "-"
# Up to this many trackers an action makes one lifecycle call per tracker and reports
# each failure by name. Beyond it, or with "select all matching", remove/pause/resume
# mark the trackers Processing and a background job finishes them.
BULK_THRESHOLD = 200
# Actions the lifecycle offers no bulk form of (delete, restore, assign, convert) run
# in the request, so they take at most this many records at a time.
SYNCHRONOUS_LIMIT = 200
# How many of the chosen records an intermediate page lists by name.
PREVIEW_LIMIT = 20
# The most trackers one bulk job takes. lifecycle.start_bulk takes a list of ids and
# filters on it with one IN (...) parameter per id; SQLite refuses more than 32,766
# parameters and PostgreSQL 65,535, so a larger selection is refused up front.
BULK_JOB_LIMIT = 10_000
# How far an intermediate page counts a "select all matching" selection.
SELECTION_COUNT_LIMIT = BULK_JOB_LIMIT


# --------------------------------------------------------------------------- registry columns


def _sobject(name: str) -> registry.SObjectType:
    sobject = registry.get(name)
    if sobject is None:
        raise ImproperlyConfigured(f"{name} is not in the object registry.")
    return sobject


def _spec(sobject: registry.SObjectType, name: str) -> registry.FieldSpec:
    spec = sobject.field(name)
    if spec is None:
        raise ImproperlyConfigured(f"{sobject.name} has no field {name}.")
    return spec


TRACKER = _sobject("ActionCadenceTracker")
STEP_TRACKER = _sobject("ActionCadenceStepTracker")


def display_name(record: Model) -> str:
    """What people call a record: a user's or queue's name, else its string form."""
    name = getattr(record, "name", None)
    return name if isinstance(name, str) and name else str(record)


def admin_link(record: Model) -> str:
    opts = record._meta
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[record.pk])
    except NoReverseMatch:
        return display_name(record)
    return format_html('<a href="{}">{}</a>', url, display_name(record))


def api_column(sobject: registry.SObjectType, name: str) -> Callable[[Model], Any]:
    """A changelist column headed by the field's API name.

    References show the related record's name and do not sort (a polymorphic name
    is not a column); other sortable fields sort by their own column.
    """
    spec = _spec(sobject, name)
    is_reference = spec.type == "reference"

    def column(record: Model) -> Any:
        if is_reference:
            related = spec.related_object(record)
            return None if related is None else display_name(related)
        return spec.value(record)

    column.__name__ = spec.name
    return admin.display(
        description=spec.name,
        ordering=spec.attr if spec.sortable and not is_reference else None,
        boolean=spec.type == "boolean",
    )(column)


def api_detail(spec: registry.FieldSpec) -> Callable[[Model], Any]:
    """A read-only detail row headed by the API name; a reference shows a link and its Id."""

    def field(record: Model) -> Any:
        if spec.type == "reference":
            related = spec.related_object(record)
            if related is None:
                return EMPTY
            return format_html("{} ({})", admin_link(related), related.sf_id)
        value = spec.value(record)
        return value if spec.type == "boolean" else display_for_value(value, EMPTY)

    field.__name__ = spec.name
    return admin.display(description=spec.name, boolean=spec.type == "boolean")(field)


def api_fieldsets(sobject: registry.SObjectType) -> tuple:
    """Every registry field, read-only: Id and the object's own fields, then the system ones."""
    system = {spec.name for spec in registry.SYSTEM_FIELDS} - {"Id"}
    own = tuple(api_detail(spec) for spec in sobject.fields if spec.name not in system)
    rest = tuple(api_detail(spec) for spec in sobject.fields if spec.name in system)
    return ((None, {"fields": own}), ("System fields", {"fields": rest, "classes": ["collapse"]}))


def fieldset_fields(fieldsets: tuple) -> tuple:
    return tuple(field for _name, options in fieldsets for field in options["fields"])


def related_columns(sobject: registry.SObjectType, names: Iterable[str]) -> tuple[str, ...]:
    """The foreign keys the given reference columns read, for list_select_related."""
    return tuple(column for name in names for column in _spec(sobject, name).columns.values())


# --------------------------------------------------------------------------- counting


def count_up_to(queryset: QuerySet, limit: int) -> tuple[int, bool]:
    """How many rows, counting no further than ``limit``; and whether there are more."""
    counted = queryset.order_by()[: limit + 1].count()
    return min(counted, limit), counted > limit


class BoundedCountPaginator(Paginator):
    """A paginator that never COUNTs a whole million-row table.

    It counts at most ``LOOKAHEAD_PAGES`` pages past the page being shown
    (``SELECT COUNT(*) FROM (SELECT ... LIMIT n)``). The count is exact when the
    list ends inside that window; otherwise it is a lower bound one row past the
    window and ``has_more`` is set, so the templates print "N+". Every page link
    it draws leads to a page with rows, and going deeper moves the window along.
    The cost grows with how far someone pages, which OFFSET pagination pays anyway.
    """

    LOOKAHEAD_PAGES = 10

    def __init__(self, *args: Any, current_page: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current_page = max(current_page, 1)
        self.has_more = False

    @cached_property
    def count(self) -> int:
        window = (self.current_page + self.LOOKAHEAD_PAGES) * self.per_page
        counted, self.has_more = count_up_to(self.object_list, window)
        return counted + 1 if self.has_more else counted


# --------------------------------------------------------------------------- action plumbing


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def tracker_label(tracker: ActionCadenceTracker) -> str:
    target = tracker.target
    return f"Tracker {tracker.sf_id}" + (f" ({display_name(target)})" if target else "")


def is_select_across(request: HttpRequest) -> bool:
    return request.POST.get("select_across") == "1"


def run_each(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    records: Sequence[Model],
    operation: Callable[[Model], Any],
    *,
    done: str,
    label: Callable[[Model], str],
    noun: str,
    skipped: int = 0,
) -> int:
    """One lifecycle call per record, each its own transaction: a refusal changes nothing
    for that record and is reported by name; the others go ahead. ``skipped`` counts
    chosen records the caller already reported and left out of ``records``."""
    succeeded = 0
    for record in records:
        try:
            operation(record)
        except lifecycle.LifecycleError as error:
            model_admin.message_user(request, f"{label(record)}: {error.message}", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        model_admin.message_user(request, done.format(plural(succeeded, noun)), messages.SUCCESS)
    if not is_select_across(request):
        # Ids posted that the visible queryset dropped: gone, or never visible to this
        # user. Both read the same, so the message reveals nothing.
        unseen = len(set(request.POST.getlist(ACTION_CHECKBOX_NAME))) - len(records) - skipped
        if unseen > 0:
            model_admin.message_user(
                request,
                f"{plural(unseen, 'selected ' + noun)} could not be found; nothing was done "
                f"to {'it' if unseen == 1 else 'them'}.",
                messages.ERROR,
            )
    return succeeded


def refuse_too_many(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, noun: str
) -> bool:
    """True (and an error message) when a request-bound action got too many records."""
    _count, too_many = count_up_to(queryset, SYNCHRONOUS_LIMIT)
    if too_many:
        model_admin.message_user(
            request,
            f"Choose at most {plural(SYNCHRONOUS_LIMIT, noun)} at a time for this action; "
            "nothing was changed.",
            messages.ERROR,
        )
    return too_many


def action_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    form: Any,
    *,
    action: str,
    title: str,
    intro: str,
    submit: str,
    label: Callable[[Model], str],
    noun: str,
    background: bool = False,
) -> HttpResponse:
    """The intermediate page of an action: what was chosen, a form, and a confirm button
    that posts the same selection back to the changelist (filters included)."""
    count, more = count_up_to(queryset, SELECTION_COUNT_LIMIT)
    preview = [label(record) for record in queryset[:PREVIEW_LIMIT]]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "form": form,
        "media": model_admin.media + form.media,
        "intro": intro,
        "submit_label": submit,
        "action": action,
        "preview": preview,
        "selection": f"{count:,}+ {noun}s" if more else plural(count, noun),
        "not_listed": count - len(preview),
        "count_has_more": more,
        "background": background,
        "select_across": is_select_across(request),
        "selected_ids": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/trackers/action_form.html", context)


# --------------------------------------------------------------------------- tracker visibility


def can_view_trackers(request: HttpRequest) -> bool:
    opts = ActionCadenceTracker._meta
    return any(
        request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
        for action in ("view", "change")
    )


class TrackerVisibilityMixin:
    """The admin's side of the sharing chokepoint.

    Every tracker-related admin and inline reads through
    ``ActionCadenceTracker.objects.visible_to``: the trackers themselves directly,
    their step trackers and change events through an id subquery on it.
    ``tracker_path`` is the foreign key to the tracker ("" for the tracker itself);
    ``access_level`` the level a user needs to see a row here.
    """

    tracker_path = ""
    access_level = "read"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if not self.tracker_path:
            return queryset.visible_to(request.user, self.access_level)
        visible = ActionCadenceTracker.objects.visible_to(request.user, self.access_level)
        return queryset.filter(**{f"{self.tracker_path}__in": visible.values("pk")})


class TrackerRecordAdmin(TrackerVisibilityMixin, admin.ModelAdmin):
    """Read-only admin for trackers and what hangs off them, fast on a million rows.

    Records change only through lifecycle actions: the model's change permission
    lets a changelist run them, and a detail page is always read-only. A record
    the user cannot see is a 404, exactly like one that does not exist.
    """

    paginator = BoundedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ("-pk",)
    search_id_field = "sf_id"
    search_help_text = "Search by Id (15 or 18 characters)."

    @property
    def search_id_prefix(self) -> str:
        return self.model.KEY_PREFIX

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return (f"={self.search_id_field}",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """One exact Id lookup on a unique index; a malformed Id matches nothing."""
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            record_id = sfid.normalize(term, self.search_id_prefix)
        except sfid.InvalidId:
            return queryset.none(), False
        return queryset.filter(**{self.search_id_field: record_id}), False

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> BoundedCountPaginator:
        try:
            page = int(request.GET.get(PAGE_VAR, 1))
        except ValueError:
            page = 1
        return self.paginator(
            queryset, per_page, orphans, allow_empty_first_page, current_page=page
        )

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")
        return obj

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Never Django's hard delete: trackers go to the recycle bin through the lifecycle.
        return False


class TrackerChildInline(TrackerVisibilityMixin, admin.TabularInline):
    """Read-only rows under a tracker, visible to whoever may view the tracker."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return can_view_trackers(request)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# --------------------------------------------------------------------------- change events


def header_column(key: str, ordering: str | None = None) -> Callable[[Model], Any]:
    """A change-event column headed and filled by its ChangeEventHeader key."""

    def column(event: ActionCadenceTrackerChangeEvent) -> Any:
        return display_for_value(event.header()[key], EMPTY)

    column.__name__ = key
    return admin.display(description=key, ordering=ordering)(column)


@admin.display(description="replayId", ordering="replay_id")
def replay_id(event: ActionCadenceTrackerChangeEvent) -> int:
    return event.replay_id


@admin.display(description="committed at", ordering="created_at")
def committed_at(event: ActionCadenceTrackerChangeEvent) -> str:
    return display_for_value(event.created_at, EMPTY)


EVENT_COLUMNS = (
    replay_id,
    header_column("recordIds"),
    header_column("changeType", ordering="change_type"),
    header_column("changedFields"),
    header_column("commitUser"),
    header_column("changeOrigin"),
    committed_at,
)


class ChangeEventInline(TrackerChildInline):
    model = ActionCadenceTrackerChangeEvent
    tracker_path = "tracker"
    verbose_name_plural = "change events"
    fields = readonly_fields = tuple(
        column for column in EVENT_COLUMNS if column.__name__ != "recordIds"
    )
    ordering = ("replay_id",)


@admin.register(ActionCadenceTrackerChangeEvent)
class ActionCadenceTrackerChangeEventAdmin(TrackerRecordAdmin):
    tracker_path = "tracker"
    search_id_field = "record_id"
    search_id_prefix = ActionCadenceTracker.KEY_PREFIX
    search_help_text = "Search by the tracker's Id (15 or 18 characters)."
    list_display = EVENT_COLUMNS
    list_filter = ("change_type",)
    ordering = ("-replay_id",)
    fields = readonly_fields = (
        *EVENT_COLUMNS,
        header_column("commitTimestamp"),
        header_column("transactionKey"),
        header_column("sequenceNumber"),
        "values",
    )
    actions = None


# --------------------------------------------------------------------------- step trackers

STEP_TRACKER_LIST_COLUMNS = (
    "Id",
    "ActionCadenceTrackerId",
    "ActionCadenceId",
    "TargetId",
    "StepTitle",
    "StepType",
    "State",
    "DueDateTime",
)


class StepTrackerInline(TrackerChildInline):
    """The tracker's timeline: one row per step it entered."""

    model = ActionCadenceStepTracker
    fk_name = "action_cadence_tracker"
    tracker_path = "action_cadence_tracker"
    verbose_name_plural = "step timeline"
    fields = readonly_fields = tuple(
        api_detail(_spec(STEP_TRACKER, name))
        for name in (
            "Id",
            "StepTitle",
            "StepType",
            "State",
            "CompletionReason",
            "DueDateTime",
            "CompletionDate",
            "CompletedById",
        )
    )
    ordering = ("created_date", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("completed_by")


@admin.register(ActionCadenceStepTracker)
class ActionCadenceStepTrackerAdmin(TrackerRecordAdmin):
    tracker_path = "action_cadence_tracker"
    list_display = tuple(api_column(STEP_TRACKER, name) for name in STEP_TRACKER_LIST_COLUMNS)
    list_select_related = related_columns(STEP_TRACKER, STEP_TRACKER_LIST_COLUMNS)
    list_filter = ("state", "step_type")
    fieldsets = api_fieldsets(STEP_TRACKER)
    readonly_fields = fieldset_fields(fieldsets)
    actions = None


# --------------------------------------------------------------------------- trackers

TRACKER_LIST_COLUMNS = (
    "Id",
    "TargetId",
    "ActionCadenceId",
    "OwnerId",
    "State",
    "CompletionReason",
    "CompletionDisposition",
    "IsTrackerActive",
    "LastModifiedDate",
)
TRACKER_LIST_RELATED = related_columns(TRACKER, TRACKER_LIST_COLUMNS)


class CompletionDispositionFilter(admin.SimpleListFilter):
    title = _spec(TRACKER, "CompletionDisposition").name
    parameter_name = "disposition"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return CompletionDisposition.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(completion_disposition=value) if value else queryset


class CadenceFilter(admin.SimpleListFilter):
    title = _spec(TRACKER, "ActionCadenceId").relationship_name
    parameter_name = "cadence"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> QuerySet:
        # Cadences are few (tens), so their names are one small query.
        return ActionCadence.objects.order_by("name").values_list("pk", "name")

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(action_cadence_id=value) if value else queryset


class TrackerActionsMixin:
    """Lifecycle actions on a changelist of trackers."""

    def _trackers(self, queryset: QuerySet) -> list[ActionCadenceTracker]:
        return list(queryset.select_related(*TRACKER_LIST_RELATED))

    def _run(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        operation: Callable[[ActionCadenceTracker], Any],
        done: str,
    ) -> None:
        run_each(
            self,
            request,
            self._trackers(queryset),
            operation,
            done=done,
            label=tracker_label,
            noun="tracker",
        )


@admin.register(ActionCadenceTracker)
class ActionCadenceTrackerAdmin(TrackerActionsMixin, TrackerRecordAdmin):
    list_display = tuple(api_column(TRACKER, name) for name in TRACKER_LIST_COLUMNS)
    list_select_related = TRACKER_LIST_RELATED
    list_filter = ("state", "completion_reason", CompletionDispositionFilter, CadenceFilter)
    fieldsets = api_fieldsets(TRACKER)
    readonly_fields = fieldset_fields(fieldsets)
    inlines = (StepTrackerInline, ChangeEventInline)
    actions = ("remove_from_cadence", "pause_trackers", "resume_trackers", "delete_to_recycle_bin")

    def _uses_bulk_job(self, request: HttpRequest, queryset: QuerySet) -> bool:
        return is_select_across(request) or count_up_to(queryset, BULK_THRESHOLD)[1]

    def _change(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        action: str,
        operation: Callable[[ActionCadenceTracker], Any],
        done: str,
        disposition: str | None = None,
    ) -> None:
        if self._uses_bulk_job(request, queryset):
            self._start_bulk_job(request, queryset, action, disposition)
        else:
            self._run(request, queryset, operation, done)

    def _start_bulk_job(
        self, request: HttpRequest, queryset: QuerySet, action: str, disposition: str | None
    ) -> None:
        ids = list(queryset.values_list("pk", flat=True)[: BULK_JOB_LIMIT + 1])
        if len(ids) > BULK_JOB_LIMIT:
            self.message_user(
                request,
                f"A bulk change takes at most {plural(BULK_JOB_LIMIT, 'tracker')}; narrow the "
                "filters and try again. Nothing was changed.",
                messages.ERROR,
            )
            return
        try:
            job = lifecycle.start_bulk(action, ids, actor=request.user, disposition=disposition)
        except lifecycle.LifecycleError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        url = reverse(f"{self.admin_site.name}:trackers_bulkjob_change", args=[job.pk])
        self.message_user(
            request,
            format_html(
                '<a href="{}">Bulk job {}</a> ({}): {} marked Processing; '
                "a background worker finishes them.",
                url,
                job.pk,
                job.get_action_display(),
                plural(job.total, "tracker"),
            ),
            messages.SUCCESS if job.total else messages.WARNING,
        )
        if job.failed:
            shown = "; ".join(
                f"{error['id'] or 'a tracker'}: {error['message']}" for error in job.errors[:5]
            )
            more = " …" if job.failed > 5 else ""
            self.message_user(
                request,
                f"{plural(job.failed, 'tracker')} left unchanged: {shown}{more}",
                messages.ERROR,
            )

    @admin.action(description="Remove from cadence…", permissions=["change"])
    def remove_from_cadence(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = RemoveFromCadenceForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            disposition = form.cleaned_data["disposition"]
            self._change(
                request,
                queryset,
                BulkAction.REMOVE,
                lambda tracker: lifecycle.remove_target(
                    tracker, actor=request.user, disposition=disposition, origin="admin"
                ),
                done="Removed {} from their cadence"
                + (f" with CompletionDisposition {disposition}." if disposition else "."),
                disposition=disposition,
            )
            return None
        return action_page(
            self,
            request,
            queryset,
            form,
            action="remove_from_cadence",
            title="Remove from cadence",
            intro="Each target leaves its cadence: the tracker becomes Complete with "
            "CompletionReason ManuallyRemoved and the disposition you choose.",
            submit="Remove from cadence",
            label=tracker_label,
            noun="tracker",
            background=self._uses_bulk_job(request, queryset),
        )

    @admin.action(description="Pause", permissions=["change"])
    def pause_trackers(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._change(
            request,
            queryset,
            BulkAction.PAUSE,
            lambda tracker: lifecycle.pause(tracker, actor=request.user, origin="admin"),
            done="Paused {}.",
        )

    @admin.action(description="Resume", permissions=["change"])
    def resume_trackers(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._change(
            request,
            queryset,
            BulkAction.RESUME,
            lambda tracker: lifecycle.resume(tracker, actor=request.user, origin="admin"),
            done="Resumed {}.",
        )

    @admin.action(description="Delete (to recycle bin)", permissions=["recycle"])
    def delete_to_recycle_bin(self, request: HttpRequest, queryset: QuerySet) -> None:
        if refuse_too_many(self, request, queryset, "tracker"):
            return
        days = settings.CADENCE_RECYCLE_BIN_DAYS
        self._run(
            request,
            queryset,
            lambda tracker: lifecycle.delete_tracker(tracker, actor=request.user, origin="admin"),
            done=f"Moved {{}} to the recycle bin; they can be restored for {days} days.",
        )

    def has_recycle_permission(self, request: HttpRequest) -> bool:
        """Django's delete permission, spent on the soft delete (needs All access per row)."""
        codename = get_permission_codename("delete", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")


@admin.register(RecycleBinTracker)
class RecycleBinTrackerAdmin(TrackerActionsMixin, TrackerRecordAdmin):
    """Soft-deleted trackers, to restore before the purge. Rows need All access: the
    owner, people above them in the role hierarchy and administrators."""

    access_level = "all"
    list_display = (
        *(api_column(TRACKER, name) for name in ("Id", "TargetId", "ActionCadenceId", "OwnerId")),
        api_column(TRACKER, "State"),
        api_column(TRACKER, "SystemModstamp"),
        "purge_after",
    )
    list_select_related = TRACKER_LIST_RELATED
    ordering = ("-system_modstamp", "-pk")
    fieldsets = api_fieldsets(TRACKER)
    readonly_fields = fieldset_fields(fieldsets)
    actions = ("restore",)

    @admin.display(description="purged after")
    def purge_after(self, tracker: ActionCadenceTracker) -> str:
        deleted_at = tracker.system_modstamp
        return display_for_value(
            deleted_at + dt.timedelta(days=settings.CADENCE_RECYCLE_BIN_DAYS), EMPTY
        )

    @admin.action(description="Restore", permissions=["change"])
    def restore(self, request: HttpRequest, queryset: QuerySet) -> None:
        if refuse_too_many(self, request, queryset, "tracker"):
            return
        self._run(
            request,
            queryset,
            lambda tracker: lifecycle.undelete_tracker(tracker, actor=request.user, origin="admin"),
            done="Restored {} from the recycle bin.",
        )


@admin.register(BulkJob)
class BulkJobAdmin(admin.ModelAdmin):
    """Background removals, pauses and resumes: read-only, with their progress."""

    list_display = (
        "id",
        "action",
        "status",
        "progress",
        "failed",
        "requested_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("action", "status")
    list_select_related = ("requested_by",)
    fields = readonly_fields = (
        "action",
        "status",
        "progress",
        "requested_by",
        "completion_disposition",
        "total",
        "succeeded",
        "failed",
        "error_list",
        "task_id",
        "created_at",
        "started_at",
        "finished_at",
    )
    actions = None

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        # A job's errors name trackers its requester could see: it stays theirs.
        if request.user.is_superuser:
            return queryset
        return queryset.filter(requested_by=request.user)

    @admin.display(description="progress")
    def progress(self, job: BulkJob) -> str:
        return format_html(
            '<progress value="{}" max="{}"></progress> {} of {}',
            job.succeeded,
            max(job.total, 1),
            job.succeeded,
            plural(job.total, "tracker"),
        )

    @admin.display(description="errors")
    def error_list(self, job: BulkJob) -> str:
        if not job.errors:
            return EMPTY
        return "\n".join(
            f"{error.get('id') or '-'}: {error.get('message')} ({error.get('errorCode')})"
            for error in job.errors
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# --------------------------------------------------------------------------- cadences


class ActionCadenceStepInline(admin.TabularInline):
    model = ActionCadenceStep
    fk_name = "action_cadence"  # chained_cadence points at ActionCadence too
    fields = (
        "step_name",
        "step_title",
        "type",
        "parent_step_name",
        "sort_order",
        "wait_time_in_seconds",
        "chained_cadence",
    )
    autocomplete_fields = ("chained_cadence",)
    extra = 0


class ActionCadenceRuleInline(admin.TabularInline):
    model = ActionCadenceRule
    fields = ("rule_name", "rule_type", "global_event_type")
    extra = 0


@admin.register(ActionCadence)
class ActionCadenceAdmin(SObjectAdmin):
    list_display = ("name", "state", "type", "owner", "activated_date", "sf_id")
    list_filter = ("state", "type")
    list_select_related = ("owner",)
    search_fields = ("name", "=sf_id")
    autocomplete_fields = ("owner",)
    readonly_fields = (*SYSTEM_FIELDS, "activated_date")
    inlines = (ActionCadenceStepInline, ActionCadenceRuleInline)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple:
        derived = ("active_targets", "total_targets", "total_steps") if obj else ()
        return (*super().get_readonly_fields(request, obj), *derived)

    def save_model(self, request: HttpRequest, obj: ActionCadence, form: Any, change: bool) -> None:
        # ActivatedDate records when the cadence first went Active; nobody types it.
        if obj.state == CadenceState.ACTIVE and obj.activated_date is None:
            obj.activated_date = timezone.now()
        super().save_model(request, obj, form, change)

    @admin.display(description="ActiveTargets")
    def active_targets(self, cadence: ActionCadence) -> int:
        return cadence.trackers.active().count()

    @admin.display(description="TotalTargets")
    def total_targets(self, cadence: ActionCadence) -> int:
        return cadence.trackers.count()

    @admin.display(description="TotalSteps")
    def total_steps(self, cadence: ActionCadence) -> int:
        return cadence.steps.exclude(type=StepType.ROOT).count()


@admin.register(ActionCadenceStep)
class ActionCadenceStepAdmin(SObjectAdmin):
    list_display = (
        "step_name",
        "action_cadence",
        "type",
        "step_title",
        "parent_step_name",
        "sf_id",
    )
    list_filter = ("type",)
    list_select_related = ("action_cadence",)
    search_fields = ("step_name", "step_title", "=sf_id")
    autocomplete_fields = ("action_cadence", "chained_cadence")


@admin.register(ActionCadenceRule)
class ActionCadenceRuleAdmin(SObjectAdmin):
    list_display = ("rule_name", "action_cadence", "rule_type", "global_event_type", "sf_id")
    list_filter = ("rule_type", "global_event_type")
    list_select_related = ("action_cadence",)
    search_fields = ("rule_name", "=sf_id")
    autocomplete_fields = ("action_cadence",)


# --------------------------------------------------------------------------- targets and related-to


class CadenceTargetAdmin(SObjectAdmin):
    """Leads and contacts: edited normally, added to a cadence through the lifecycle."""

    actions = ("add_to_cadence",)

    def _target_label(self, target: Model) -> str:
        return f"{self.opts.verbose_name.capitalize()} {display_name(target)}"

    @admin.action(description="Add to cadence…", permissions=["change"])
    def add_to_cadence(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        noun = self.opts.verbose_name
        if refuse_too_many(self, request, queryset, noun):
            return None
        form = AddToCadenceForm(
            request.POST if "apply" in request.POST else None, admin_site=self.admin_site
        )
        if form.is_valid():
            cadence = form.cleaned_data["cadence"]
            owner = form.cleaned_data["owner"] or request.user
            run_each(
                self,
                request,
                list(queryset),
                lambda target: lifecycle.assign_target(
                    target, cadence, actor=request.user, owner=owner, origin="admin"
                ),
                done=f"Added {{}} to cadence {cadence.name}.",
                label=self._target_label,
                noun=noun,
            )
            return None
        return action_page(
            self,
            request,
            queryset,
            form,
            action="add_to_cadence",
            title="Add to cadence",
            intro="Each target starts the cadence's first step, owned by the user you choose.",
            submit="Add to cadence",
            label=self._target_label,
            noun=noun,
        )


@admin.register(Lead)
class LeadAdmin(CadenceTargetAdmin):
    list_display = (
        "sf_id",
        "first_name",
        "last_name",
        "company",
        "email",
        "status",
        "is_converted",
    )
    list_filter = ("is_converted",)
    search_fields = ("last_name", "first_name", "company", "email", "=sf_id")
    # Conversion completes the lead's tracker, so it happens only through the action.
    readonly_fields = (*SYSTEM_FIELDS, "is_converted")
    actions = ("add_to_cadence", "convert_lead")

    @admin.action(description="Convert lead", permissions=["change"])
    def convert_lead(self, request: HttpRequest, queryset: QuerySet) -> None:
        if refuse_too_many(self, request, queryset, "lead"):
            return
        leads = list(queryset)
        converted = [lead for lead in leads if lead.is_converted]
        for lead in converted:
            self.message_user(
                request, f"{self._target_label(lead)} is already converted.", messages.WARNING
            )
        run_each(
            self,
            request,
            [lead for lead in leads if not lead.is_converted],
            lambda lead: lifecycle.lead_converted(lead, actor=request.user, origin="admin"),
            done="Converted {}; any active tracker completed with LeadConverted.",
            label=self._target_label,
            noun="lead",
            skipped=len(converted),
        )


@admin.register(Contact)
class ContactAdmin(CadenceTargetAdmin):
    list_display = ("sf_id", "first_name", "last_name", "email", "title")
    search_fields = ("last_name", "first_name", "email", "=sf_id")


@admin.register(Opportunity)
class OpportunityAdmin(SObjectAdmin):
    list_display = ("name", "stage_name", "amount", "close_date", "sf_id")
    search_fields = ("name", "=sf_id")


@admin.register(Invoice)
class InvoiceAdmin(SObjectAdmin):
    list_display = ("document_number", "status", "total_amount", "sf_id")
    search_fields = ("document_number", "=sf_id")
