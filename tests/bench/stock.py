"""What a user would use instead, over the same data: the stock Django admin changelist
and a plain DRF ModelViewSet with default page-number pagination.

Both are deliberately default: a plain ``ModelAdmin`` on an ``AdminSite`` of its own,
and a ``ModelSerializer`` with ``fields = "__all__"``. ``urlpatterns`` adds them beside
the project's own URLs for the benchmark run only (``ROOT_URLCONF``).
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from rest_framework import routers, serializers, viewsets
from rest_framework.pagination import PageNumberPagination

from trackers.models import ActionCadenceTracker

STOCK_PAGE_SIZE = 200

stock_site = admin.AdminSite(name="stock_admin")
stock_site.register(ActionCadenceTracker, admin.ModelAdmin)


class StockTrackerSerializer(serializers.ModelSerializer):
    class Meta:
        model = ActionCadenceTracker
        fields = "__all__"


class StockPagination(PageNumberPagination):
    page_size = STOCK_PAGE_SIZE


class StockTrackerViewSet(viewsets.ModelViewSet):
    queryset = ActionCadenceTracker.objects.order_by("pk")
    serializer_class = StockTrackerSerializer
    pagination_class = StockPagination
    filter_backends: list = []


router = routers.SimpleRouter()
router.register("trackers", StockTrackerViewSet, basename="stock-tracker")

urlpatterns = [
    path("stock-admin/", stock_site.urls),
    path("stock-api/", include(router.urls)),
    path("", include("cadence_site.urls")),
]
