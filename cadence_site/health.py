"""``GET /health/`` for load balancers, and the last-resort 500 handler.

The health check asks the database one cheap question (``SELECT 1``) and says
200 or 503. ``HealthCheckMiddleware`` answers it ahead of the rest of the stack:
no login, no session, no cookie, no CSRF, no redirect to HTTPS, and no
ALLOWED_HOSTS check, since a load balancer probes each host by its address.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from django.views.defaults import server_error as django_server_error

from cadence_site.middleware import database_unavailable_response, is_busy

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


class HealthCheckMiddleware:
    """Answer ``/health/`` before host validation, sessions and the HTTPS redirect."""

    path = "/health/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == self.path:
            return health(request)
        return self.get_response(request)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database that failed outside a view (in middleware) is still a 503."""
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        return database_unavailable_response(request, busy=is_busy(error))
    return django_server_error(request)
