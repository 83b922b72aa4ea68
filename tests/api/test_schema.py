"""The OpenAPI schema and the interactive docs, served from vendored assets only."""

import json
import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from cadence_site.api_urls import SCHEMA_PATTERNS

pytestmark = pytest.mark.django_db

PATHS = {
    "/api/trackers/",
    "/api/trackers/{id}/",
    "/api/trackers/{id}/remove/",
    "/api/trackers/{id}/pause/",
    "/api/trackers/{id}/resume/",
    "/api/trackers/{id}/access/",
    "/api/trackers/bulk-remove/",
    "/api/bulk-jobs/{id}/",
    "/api/cadences/",
    "/api/steps/",
    "/api/step-trackers/",
    "/api/sharing-rules/",
    "/api/sharing-rules/{id}/",
    "/api/shares/",
    "/api/shares/{id}/",
    "/api/change-events/",
}


def test_schema_is_valid_openapi_3_json():
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)
    assert set(schema["paths"]) >= PATHS
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearerAuth"]["description"],
    }


def test_schema_as_yaml_describes_trackers_by_api_name():
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    tracker = schema["components"]["schemas"]["Tracker"]["properties"]
    assert {"Id", "ActionCadenceId", "State", "CompletionDisposition", "Owner"} <= set(tracker)
    states = schema["components"]["schemas"]["ActionCadenceTrackerStateEnum"]["enum"]
    assert states == ["Complete", "Error", "Initializing", "Paused", "Processing", "Running"]
    parameters = {p["name"] for p in schema["paths"]["/api/trackers/"]["get"]["parameters"]}
    assert {"cadence", "owner", "state", "cursor", "page_size", "ordering"} <= parameters


def test_schema_generates_without_warnings_or_errors():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator(patterns=SCHEMA_PATTERNS).get_schema(request=None, public=True)
    validate_schema(schema)
    assert not GENERATOR_STATS, "drf-spectacular reported warnings or errors (see stderr)"


def test_docs_page_uses_only_vendored_assets():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"https?://", html)
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {asset.rsplit("/", 1)[1] for asset in assets} == {
        "favicon-32x32.png",
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
    }
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset
    assert '"/api/schema/"' in html
