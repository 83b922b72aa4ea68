"""The browser dashboards. Ids in paths are 15- or 18-character Salesforce ids."""

from django.urls import path, re_path

from trackers import views

app_name = "dashboard"

SF_ID = r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?"

urlpatterns = [
    path("", views.OverviewView.as_view(), name="overview"),
    path("trackers/", views.TrackerListView.as_view(), name="tracker_list"),
    path("trackers/export.csv", views.TrackerExportView.as_view(), name="tracker_export"),
    path("trackers/bulk/", views.BulkActionView.as_view(), name="bulk_action"),
    path("trackers/jobs/<int:pk>/", views.BulkJobView.as_view(), name="bulk_job"),
    path(
        "trackers/jobs/<int:pk>/progress/",
        views.BulkJobProgressView.as_view(),
        name="bulk_job_progress",
    ),
    re_path(
        rf"^trackers/(?P<tracker_id>{SF_ID})/$",
        views.TrackerDetailView.as_view(),
        name="tracker_detail",
    ),
    re_path(
        rf"^trackers/(?P<tracker_id>{SF_ID})/(?P<action>remove|pause|resume)/$",
        views.TrackerActionView.as_view(),
        name="tracker_action",
    ),
    re_path(
        rf"^trackers/(?P<tracker_id>{SF_ID})/shares/$",
        views.ShareAddView.as_view(),
        name="share_add",
    ),
    re_path(
        rf"^trackers/(?P<tracker_id>{SF_ID})/shares/(?P<share_id>{SF_ID})/remove/$",
        views.ShareRemoveView.as_view(),
        name="share_remove",
    ),
    path("cadences/", views.CadenceListView.as_view(), name="cadence_list"),
    re_path(
        rf"^cadences/(?P<cadence_id>{SF_ID})/$",
        views.CadenceDetailView.as_view(),
        name="cadence_detail",
    ),
]
