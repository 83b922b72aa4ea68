"""``GET /health/`` for load balancers, and the last-resort 500 handler.

The health check asks the database one cheap question (``SELECT 1``) and says
200 or 503. It needs no login, reads no session and sets no cookie, and
SECURE_REDIRECT_EXEMPT lets it answer over plain HTTP.
"""

from __future__ import annotations

import logging
import sys
import time

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from django.views.defaults import server_error as django_server_error

from cadence_site.middleware import database_unavailable_response

logger = logging.getLogger(__name__)


@csrf_exempt
@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        logger.warning("Health check: database unavailable: %s", error)
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse(
        {
            "status": "ok",
            "database": "ok",
            "database_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database that failed outside a view (in middleware) is still a 503."""
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        return database_unavailable_response(request)
    return django_server_error(request)
