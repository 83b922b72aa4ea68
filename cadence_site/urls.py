from django.contrib import admin
from django.urls import include, path, re_path

urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^services/data/v(?P<version>[0-9]+\.[0-9]+)/", include("cadence_site.sfapi.urls")),
    path("api/", include("cadence_site.api_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("trackers.urls")),
]
