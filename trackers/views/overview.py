"""The Overview: active trackers against the org limit, states, completions, cadences."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from django.views.generic import TemplateView

from trackers import dashboards
from trackers.views.base import TrackerScopeMixin, wants


class OverviewView(TrackerScopeMixin, TemplateView):
    template_name = "trackers/overview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        period = dashboards.parse_period(self.request.GET.get("period"))
        visible, everything = self.visible_for_figures()
        # Figures are reused only for those who see every tracker. Anyone else's depend
        # on grants that can be taken back at any moment, and a count must never include
        # a tracker they can no longer read: theirs are counted on every view.
        max_age = settings.CADENCE_OVERVIEW_MAX_AGE if everything else 0
        figures = dashboards.overview_as_of(
            visible,
            period_days=period,
            include_processing=self.include_processing,
            max_age=max_age,
            refresh=wants(self.request, "refresh"),
        )
        charts = {
            "states": [[state, count] for state, count in figures.by_state],
            "reasons": [[reason, count] for reason, count in figures.by_reason],
            "dispositions": [[value, count] for value, count in figures.by_disposition],
        }
        return {
            **super().get_context_data(**kwargs),
            **self.scope_context(figures.processing_hidden),
            "figures": figures,
            "charts": charts,
            "periods": dashboards.PERIOD_DAYS,
            "max_age": max_age,
            "age_seconds": int((timezone.now() - figures.computed_at).total_seconds()),
            "nav": "overview",
        }
