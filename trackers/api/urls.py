from rest_framework.routers import SimpleRouter

from trackers.api import views

router = SimpleRouter()
router.register("trackers", views.TrackerViewSet, basename="tracker")
router.register("bulk-jobs", views.BulkJobViewSet, basename="bulk-job")
router.register("cadences", views.CadenceViewSet, basename="cadence")
router.register("steps", views.StepViewSet, basename="step")
router.register("step-trackers", views.StepTrackerViewSet, basename="step-tracker")
router.register("change-events", views.ChangeEventViewSet, basename="change-event")

urlpatterns = router.urls
