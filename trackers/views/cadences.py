"""Cadences: the index, and one cadence's steps, funnel and Running targets.

Cadences are org metadata every signed-in user may see; the trackers counted on
them are only the ones the user can read.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.views.generic import TemplateView

from cadence_site import sfid
from trackers import dashboards
from trackers.choices import TrackerState
from trackers.models import ActionCadence
from trackers.views.base import TrackerScopeMixin
from trackers.views.paging import SortColumn, paginate

RUNNING_PER_PAGE = 50
RUNNING_ORDER = SortColumn("created", "created_date", "Running since")


class CadenceListView(TrackerScopeMixin, TemplateView):
    template_name = "trackers/cadence_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        visible, visible_for_count = self.visible_pair()
        counted = dashboards.dashboard_trackers(
            visible_for_count, include_processing=self.include_processing
        )
        hidden = (
            None
            if self.include_processing
            else dashboards.processing_count(visible, dashboards.COUNT_CAP)
        )
        return {
            **super().get_context_data(**kwargs),
            **self.scope_context(hidden),
            "cadences": dashboards.cadence_index(counted),
            "nav": "cadences",
        }


class CadenceDetailView(TrackerScopeMixin, TemplateView):
    template_name = "trackers/cadence_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        try:
            cadence_id = sfid.normalize(kwargs["cadence_id"], ActionCadence.KEY_PREFIX)
            cadence = ActionCadence.objects.select_related("owner").get(sf_id=cadence_id)
        except (sfid.InvalidId, ActionCadence.DoesNotExist):
            raise Http404("No such cadence.") from None
        visible, visible_for_count = self.visible_pair()
        on_cadence = visible.filter(action_cadence=cadence)
        # The same rows in the shape that counts fastest (sharing.access).
        counting = visible_for_count.filter(action_cadence=cadence)
        hidden = (
            None
            if self.include_processing
            else dashboards.processing_count(on_cadence, dashboards.COUNT_CAP)
        )
        # The seed's usage query, as a page: SELECT TargetId FROM ActionCadenceTracker
        # WHERE ActionCadenceId = <this cadence> AND State = 'Running'.
        running = on_cadence.filter(state=TrackerState.RUNNING)
        page = paginate(
            running,
            RUNNING_ORDER,
            descending=False,
            cursor=self.request.GET.get("cursor"),
            per_page=RUNNING_PER_PAGE,
            count=lambda _rows: dashboards.capped_count(
                counting.filter(state=TrackerState.RUNNING), dashboards.COUNT_CAP
            ),
            rows=lambda rows: rows.select_related(
                "target_lead", "target_contact", "owner_user", "owner_queue", "current_step"
            ),
        )
        counted = dashboards.dashboard_trackers(
            counting, include_processing=self.include_processing
        )
        return {
            **super().get_context_data(**kwargs),
            **self.scope_context(hidden),
            "cadence": cadence,
            "funnel": dashboards.step_funnel(cadence, counted),
            "page": page,
            "running_count": page.count,
            "count_cap": dashboards.COUNT_CAP,
            "soql": (
                "SELECT TargetId FROM ActionCadenceTracker "
                f"WHERE ActionCadenceId = '{cadence.sf_id}' AND State = 'Running'"
            ),
            "has_cursor": bool(self.request.GET.get("cursor")),
            "nav": "cadences",
        }
