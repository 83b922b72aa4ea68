"""One tracker: its fields by API name, step timeline, change history and who can see it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from cadence_site import registry
from sharing import access, services
from sharing.models import ActionCadenceTrackerShare
from trackers.choices import CompletionDisposition, TrackerState
from trackers.dashboard_forms import AccessCheckForm, PauseForm, ShareForm
from trackers.lifecycle import REMOVABLE_STATES
from trackers.views.base import TrackerScopeMixin

HISTORY_ROWS = 50


@dataclass
class FieldRow:
    name: str
    label: str
    display: str | None
    record_id: str | None = None
    url: str | None = None


def _display(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_rows(tracker: Any) -> list[FieldRow]:
    """Every registry field of the tracker, in the registry's order, under its API name.

    A reference shows the record's name beside its 18-character Id."""
    rows = []
    for spec in registry.get("ActionCadenceTracker").fields:
        if spec.type != "reference":
            rows.append(FieldRow(spec.name, spec.label, _display(spec.value(tracker))))
            continue
        related = spec.related_object(tracker)
        if related is None:
            rows.append(FieldRow(spec.name, spec.label, None))
            continue
        url = None
        if spec.name == "ActionCadenceId":
            url = reverse("dashboard:cadence_detail", args=[related.sf_id])
        name = getattr(related, "name", None) if spec.name == "OwnerId" else None
        label = str(name or related)
        rows.append(FieldRow(spec.name, spec.label, label, related.sf_id, url))
    return rows


class TrackerDetailView(TrackerScopeMixin, TemplateView):
    template_name = "trackers/tracker_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        user = self.request.user
        sobject = registry.get("ActionCadenceTracker")
        tracker = self.get_tracker(
            kwargs["tracker_id"],
            self.visible_trackers().select_related(*sobject.select_related()),
        )
        level = access.access_level(user, tracker)
        can_edit = access.rank(level) >= access.rank("edit")
        has_all = level == "all"
        context = {
            **super().get_context_data(**kwargs),
            "tracker": tracker,
            "fields": field_rows(tracker),
            "level": level,
            "can_edit": can_edit,
            "has_all": has_all,
            "can_remove": can_edit and tracker.state in REMOVABLE_STATES,
            "can_pause": can_edit and tracker.state == TrackerState.RUNNING,
            "can_resume": can_edit and tracker.state == TrackerState.PAUSED,
            "dispositions": CompletionDisposition.choices,
            "pause_form": PauseForm(),
            "steps": tracker.step_trackers.select_related("completed_by").order_by(
                "created_date", "pk"
            ),
            "events": [
                _event_row(event)
                for event in tracker.change_events.select_related("commit_user").order_by(
                    "-replay_id"
                )[:HISTORY_ROWS]
            ],
            "history_rows": HISTORY_ROWS,
            "grants": access.explain_access(user, tracker),
            "nav": "trackers",
        }
        if has_all:
            context["shares"] = tracker.shares.select_related("user", "group", "rule").order_by(
                "row_cause", "pk"
            )
            context["share_form"] = ShareForm()
            check = AccessCheckForm(self.request.GET) if "username" in self.request.GET else None
            if check is not None and check.is_valid():
                other = check.cleaned_data["username"]
                context["checked_user"] = other
                context["checked_level"] = access.access_level(other, tracker)
                context["checked_grants"] = access.explain_access(other, tracker)
            context["check_form"] = check or AccessCheckForm()
        return context


def _event_row(event: Any) -> dict[str, Any]:
    return {
        "replay_id": event.replay_id,
        "change_type": event.change_type,
        "when": dt.datetime.fromtimestamp(event.commit_timestamp / 1000, tz=dt.UTC),
        "user": event.commit_user,
        "origin": event.change_origin,
        "changes": [(name, _display(event.values.get(name))) for name in event.changed_fields],
    }


class ShareAddView(TrackerScopeMixin, View):
    """Add or change a Manual share; sharing.services requires All access."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, tracker_id: str) -> HttpResponse:
        tracker = self.get_tracker(tracker_id)
        back = reverse("dashboard:tracker_detail", args=[tracker.sf_id]) + "#access"
        form = ShareForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(errors))
            return redirect(back)
        grantee = form.cleaned_data["grantee"]
        try:
            services.share_tracker(
                tracker, grantee, form.cleaned_data["access_level"], actor=request.user
            )
        except services.SharingError as error:
            messages.error(request, error.message)
        else:
            name = getattr(grantee, "username", None) or grantee.name
            messages.success(request, f"Shared with {name}.")
        return redirect(back)


class ShareRemoveView(TrackerScopeMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, tracker_id: str, share_id: str) -> HttpResponse:
        tracker = self.get_tracker(tracker_id)
        back = reverse("dashboard:tracker_detail", args=[tracker.sf_id]) + "#access"
        share = (
            ActionCadenceTrackerShare.objects.filter(parent=tracker, sf_id=share_id)
            .select_related("parent", "user", "group")
            .first()
        )
        if share is None:
            raise Http404("No such share.")
        try:
            services.remove_share(share, actor=request.user)
        except services.SharingError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Removed the manual share with {share.grantee}.")
        return redirect(back)
