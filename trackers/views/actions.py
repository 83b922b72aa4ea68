"""Remove, pause and resume: one tracker at once, or many through a Processing bulk job.

Every change goes through ``trackers.lifecycle`` with the signed-in user as the
actor, so Edit access and the state rules are enforced there, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View
from django.views.generic import DetailView

from trackers import lifecycle
from trackers.choices import BulkAction, BulkJobStatus
from trackers.dashboard_forms import BulkActionForm, PauseForm
from trackers.forms import RemoveFromCadenceForm
from trackers.models import ActionCadenceTracker, BulkJob
from trackers.views.base import TrackerScopeMixin, safe_next
from trackers.views.tracker_list import filtered_trackers, tracker_filterset

PREVIEW_ROWS = 10
# The progress endpoint lists this many per-tracker errors; the page says how many more.
ERRORS_SHOWN = 200

ACTION_FORMS = {"remove": RemoveFromCadenceForm, "pause": PauseForm, "resume": forms.Form}
VERBS = {
    BulkAction.REMOVE: ("remove", "removed"),
    BulkAction.PAUSE: ("pause", "paused"),
    BulkAction.RESUME: ("resume", "resumed"),
}


def _first_error(form: Any) -> str:
    for errors in form.errors.values():
        return " ".join(errors)
    return "Check the form and try again."


class TrackerActionView(TrackerScopeMixin, View):
    """POST /trackers/<Id>/remove|pause|resume/ for one tracker."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, tracker_id: str, action: str) -> HttpResponse:
        tracker = self.get_tracker(tracker_id)
        back = safe_next(request, reverse("dashboard:tracker_detail", args=[tracker.sf_id]))
        form = ACTION_FORMS[action](request.POST)
        if not form.is_valid():
            messages.error(request, f"Tracker {tracker.sf_id}: {_first_error(form)}")
            return redirect(back)
        try:
            if action == "remove":
                disposition = form.cleaned_data["disposition"]
                lifecycle.remove_target(
                    tracker, actor=request.user, disposition=disposition, origin="dashboard"
                )
                done = "removed from its cadence" + (
                    f" ({disposition})" if disposition else " (no disposition)"
                )
            elif action == "pause":
                lifecycle.pause(
                    tracker,
                    actor=request.user,
                    resume_at=form.cleaned_data.get("resume_at"),
                    origin="dashboard",
                )
                done = "paused"
            else:
                lifecycle.resume(tracker, actor=request.user, origin="dashboard")
                done = "resumed"
        except lifecycle.NotFound:
            raise Http404("No such tracker.") from None
        except lifecycle.LifecycleError as error:
            messages.error(request, f"Tracker {tracker.sf_id}: {error.message}")
        else:
            messages.success(request, f"{_target_name(tracker)} was {done}.")
        return redirect(back)


def _target_name(tracker: ActionCadenceTracker) -> str:
    target = tracker.target
    return str(target) if target is not None else f"Tracker {tracker.sf_id}"


@dataclass
class BulkSelection:
    """What a bulk request would touch, worked out the same way for review and start.

    ``trackers`` is what goes to ``lifecycle.start_bulk``: the visible trackers picked
    one by one (ids), or the filtered queryset for "all matching"."""

    trackers: list[int] | QuerySet
    preview: QuerySet
    total: int
    eligible: int
    not_visible: int = 0

    @property
    def refused(self) -> int:
        """Trackers in the selection that the job will refuse (state or access)."""
        return self.total - self.eligible


class BulkActionView(TrackerScopeMixin, View):
    """POST once to review (a confirmation page), again with ``confirmed`` to start the job."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        form = BulkActionForm(request.POST)
        back = reverse("dashboard:tracker_list")
        if request.POST.get("query"):
            back += "?" + request.POST["query"]
        if not form.is_valid():
            messages.error(request, _first_error(form))
            return redirect(back)
        data = form.cleaned_data
        selection = self.select(data)
        if selection is None:
            messages.error(request, "The filter is not valid any more; check it and try again.")
            return redirect(back)
        if not data["confirmed"]:
            return render(request, "trackers/bulk_confirm.html", self.review(form, selection))
        try:
            job = lifecycle.start_bulk(
                data["action"],
                selection.trackers,
                actor=request.user,
                disposition=data["disposition"],
            )
        except lifecycle.LifecycleError as error:
            messages.error(request, error.message)
            return redirect(back)
        job_url = reverse("dashboard:bulk_job", args=[job.pk])
        return redirect(f"{job_url}?{urlencode({'next': back})}")

    def select(self, data: dict[str, Any]) -> BulkSelection | None:
        sources = lifecycle.BULK_SOURCE_STATES[data["action"]]
        user = self.request.user
        if data["scope"] == BulkActionForm.SELECTED:
            visible = self.visible_trackers().filter(sf_id__in=data["ids"])
            ids = list(visible.order_by("pk").values_list("pk", flat=True))
            # Read-only or wrong-state trackers still go to the job, which reports each one.
            return BulkSelection(
                trackers=ids,
                preview=visible,
                total=len(ids),
                eligible=visible.filter(state__in=sources).visible_to(user, "edit").count(),
                not_visible=len(data["ids"]) - len(ids),
            )
        filterset = tracker_filterset(QueryDict(data["query"]), self.visible_trackers())
        filtered = filtered_trackers(filterset)
        if filtered is None:
            return None
        # "All matching" takes only what the action applies to and the user may edit
        # (start_bulk does the same with a queryset): listing every Complete tracker of
        # the filter as a refusal would help nobody.
        eligible = filtered.filter(state__in=sources).visible_to(user, "edit")
        count = eligible.count()
        return BulkSelection(trackers=filtered, preview=eligible, total=count, eligible=count)

    def review(self, form: BulkActionForm, selection: BulkSelection) -> dict[str, Any]:
        data = form.cleaned_data
        return {
            "form": form,
            "data": data,
            "selection": selection,
            "verb": VERBS[data["action"]][0],
            "action_label": BulkAction(data["action"]).label,
            "preview": selection.preview.with_related().order_by("pk")[:PREVIEW_ROWS],
            "more": max(0, selection.total - PREVIEW_ROWS),
            "ids": form.data.getlist("ids"),
            "nav": "trackers",
        }


class RequesterJobMixin(LoginRequiredMixin):
    """A bulk job is visible only to the user who started it."""

    request: HttpRequest

    def get_queryset(self):
        return BulkJob.objects.filter(requested_by=self.request.user).select_related("requested_by")


class BulkJobView(RequesterJobMixin, DetailView):
    template_name = "trackers/bulk_job.html"
    context_object_name = "job"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        job = self.object
        back = safe_next(self.request, reverse("dashboard:tracker_list"))
        return {
            **super().get_context_data(**kwargs),
            "progress": job_progress(job),
            "verb": VERBS[job.action][1],
            "back": back,
            "nav": "trackers",
        }


class BulkJobProgressView(RequesterJobMixin, View):
    """JSON for the job page's progress bar, polled without reloading."""

    def get(self, request: HttpRequest, pk: int) -> JsonResponse:
        job = get_object_or_404(self.get_queryset(), pk=pk)
        return JsonResponse(job_progress(job))


def job_progress(job: BulkJob) -> dict[str, Any]:
    done = job.status in (BulkJobStatus.DONE, BulkJobStatus.FAILED)
    percent = 100 if done else (round(100 * job.succeeded / job.total) if job.total else 0)
    errors = list(job.errors or [])[:ERRORS_SHOWN]
    names = _target_names(job, [error["id"] for error in errors if error.get("id")])
    return {
        "id": job.pk,
        "action": job.action,
        "status": job.status,
        "done": done,
        "total": job.total,
        "succeeded": job.succeeded,
        "failed": job.failed,
        "percent": percent,
        "errors": [
            {
                "id": error.get("id"),
                "target": names.get(error.get("id")),
                "message": error.get("message", ""),
                "errorCode": error.get("errorCode", ""),
                "url": reverse("dashboard:tracker_detail", args=[error["id"]])
                if error.get("id")
                else None,
            }
            for error in errors
        ],
        "more_errors": max(0, len(job.errors or []) - ERRORS_SHOWN),
    }


def _target_names(job: BulkJob, sf_ids: list[str]) -> dict[str, str]:
    """Who each refused tracker is about, so a person can tell the rows apart."""
    if not sf_ids or job.requested_by is None:
        return {}
    trackers = (
        ActionCadenceTracker.objects.visible_to(job.requested_by, "read")
        .filter(sf_id__in=sf_ids)
        .select_related("target_lead", "target_contact")
    )
    return {tracker.sf_id: str(tracker.target) for tracker in trackers if tracker.target}
