from rest_framework.routers import SimpleRouter

from sharing.api import views

router = SimpleRouter()
router.register("sharing-rules", views.SharingRuleViewSet, basename="sharing-rule")
router.register("shares", views.ShareViewSet, basename="share")

urlpatterns = router.urls
