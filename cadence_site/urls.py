from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^services/data/v(?P<version>[0-9]+\.[0-9]+)/", include("cadence_site.sfapi.urls")),
    path("api/", include("cadence_site.api_urls")),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
