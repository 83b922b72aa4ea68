"""What every dashboard view shares: login, the sharing chokepoint and the Processing toggle.

No view builds its own tracker queryset: they all start from
``TrackerScopeMixin.visible_trackers()``, which is
``ActionCadenceTracker.objects.visible_to(request.user, level)``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from cadence_site import sfid
from sharing.access import visible_q
from trackers.models import ActionCadenceTracker

TRUE_VALUES = {"1", "true", "on", "yes"}


def wants(request: HttpRequest, name: str) -> bool:
    """Whether the flag ``name`` is on in the POST or the query string."""
    value = request.POST.get(name) or request.GET.get(name, "")
    return value.strip().lower() in TRUE_VALUES


def wants_processing(request: HttpRequest) -> bool:
    """The explicit toggle that brings Processing trackers back into figures and lists."""
    return wants(request, "include_processing")


def editable_annotation(user: Any) -> Exists:
    """True on rows ``user`` may edit, evaluated in the list query (no per-row checks)."""
    editable = ActionCadenceTracker.objects.visible_to(user, "edit").filter(pk=OuterRef("pk"))
    return Exists(editable)


def safe_next(request: HttpRequest, default: str) -> str:
    """Where to go back to after a POST: a same-site ``next`` or ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


class TrackerScopeMixin(LoginRequiredMixin):
    """Login required; trackers only through the sharing chokepoint."""

    request: HttpRequest

    @property
    def include_processing(self) -> bool:
        return wants_processing(self.request)

    def visible_trackers(self, level: str = "read", purpose: str = "page") -> QuerySet:
        """``purpose="count"`` for counts and aggregates (see ``sharing.access``)."""
        return ActionCadenceTracker.objects.visible_to(self.request.user, level, purpose)

    def visible_pair(self, level: str = "read") -> tuple[QuerySet, QuerySet]:
        """The visible trackers shaped for a page and for its counts (one org read)."""
        return ActionCadenceTracker.objects.visible_pair(self.request.user, level)

    def visible_for_figures(self) -> tuple[QuerySet, bool]:
        """The readable trackers shaped for counting, and whether they are every
        tracker (an administrator, a public org-wide default): only then can figures
        counted for one user be reused, since nobody can take any of them away."""
        shown = visible_q(self.request.user, "read", "count")
        return ActionCadenceTracker.objects.filter(shown), not shown

    def get_tracker(self, tracker_id: str, queryset: QuerySet | None = None) -> Any:
        """A tracker the user can read, by 15- or 18-character Id; 404 for anything else.

        A tracker the user cannot read is a 404 like a missing one, never a 403
        that would confirm it exists.
        """
        try:
            normalized = sfid.normalize(tracker_id, ActionCadenceTracker.KEY_PREFIX)
        except sfid.InvalidId:
            raise Http404("No such tracker.") from None
        queryset = self.visible_trackers("read") if queryset is None else queryset
        try:
            return queryset.get(sf_id=normalized)
        except ActionCadenceTracker.DoesNotExist:
            raise Http404("No such tracker.") from None

    def scope_context(self, hidden_processing: int | None = None) -> dict[str, Any]:
        return {
            "include_processing": self.include_processing,
            "hidden_processing": hidden_processing,
        }
