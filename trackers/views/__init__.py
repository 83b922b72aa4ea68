"""The browser dashboards: server-rendered pages over the visible trackers (SPEC 4)."""

from trackers.views.actions import (
    BulkActionView,
    BulkJobProgressView,
    BulkJobView,
    TrackerActionView,
)
from trackers.views.cadences import CadenceDetailView, CadenceListView
from trackers.views.overview import OverviewView
from trackers.views.tracker_detail import ShareAddView, ShareRemoveView, TrackerDetailView
from trackers.views.tracker_list import TrackerExportView, TrackerListView

__all__ = [
    "BulkActionView",
    "BulkJobProgressView",
    "BulkJobView",
    "CadenceDetailView",
    "CadenceListView",
    "OverviewView",
    "ShareAddView",
    "ShareRemoveView",
    "TrackerActionView",
    "TrackerDetailView",
    "TrackerExportView",
    "TrackerListView",
]
