from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from cadence_site.sfimport.admin_views import import_view
from sharing.login import ThrottledAdminAuthenticationForm, ThrottledAuthenticationForm

# Both login pages count failed logins in the database (sharing.login).
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("admin/import-salesforce/", admin.site.admin_view(import_view), name="sfimport_admin"),
    path("admin/", admin.site.urls),
    re_path(r"^services/data/v(?P<version>[0-9]+\.[0-9]+)/", include("cadence_site.sfapi.urls")),
    path("api/", include("cadence_site.api_urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(form_class=ThrottledAuthenticationForm),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("trackers.urls")),
]

# GET /health/ is answered by cadence_site.health.HealthCheckMiddleware, ahead of this.
handler500 = "cadence_site.health.server_error"
