"""The DRF resource API under /api/ (SPEC 5.2), its OpenAPI schema and interactive docs.

The schema describes this API only (the Salesforce-compatible surface under
/services/data/ follows Salesforce's own documentation). The docs page loads
Swagger UI from static/vendor/swagger-ui-dist (SPECTACULAR_SETTINGS), never a CDN.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

import sharing.api.schema  # noqa: F401  (registers the bearer-token security scheme)

app_name = "api"

resources = [
    path("", include("trackers.api.urls")),
    path("", include("sharing.api.urls")),
]
# What the schema generator walks: the resources at the paths clients call.
SCHEMA_PATTERNS = [path("api/", include(resources))]

urlpatterns = [
    *resources,
    path("schema/", SpectacularAPIView.as_view(patterns=SCHEMA_PATTERNS), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
