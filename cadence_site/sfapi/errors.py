"""Salesforce-shaped errors: ``[{"message": ..., "errorCode": ...}]`` with Salesforce's statuses.

Views raise ``SalesforceError`` (or let DRF, lifecycle and sharing errors
propagate); ``exception_handler`` turns every one of them into the body and
status an existing Salesforce integration expects. It is scoped to the
Salesforce-compatible views, so the DRF resource API keeps DRF's own shape.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

SESSION_INVALID = "Session expired or invalid"
NOT_FOUND_MESSAGE = "The requested resource does not exist"

# Error codes of the lifecycle and sharing services that are not a plain 400.
STATUS_BY_CODE = {
    "NOT_FOUND": 404,
    "INSUFFICIENT_ACCESS_OR_READONLY": 403,
    "UNABLE_TO_LOCK_ROW": 409,
}


class SalesforceError(Exception):
    """One Salesforce error; ``fields`` names the API fields it is about (for DML errors)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        *,
        fields: list[str] | None = None,
        headers: dict[str, str] | None = None,
        more: list[SalesforceError] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_BY_CODE.get(code, 400)
        self.fields = fields
        self.headers = headers or {}
        self.more = more or []  # further errors about the same request (DML validation)

    def entry(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            error["fields"] = self.fields
        return error

    def body(self) -> list[dict[str, Any]]:
        return [self.entry(), *(error.entry() for error in self.more)]


def not_found(message: str = NOT_FOUND_MESSAGE) -> SalesforceError:
    return SalesforceError("NOT_FOUND", message, 404)


def method_not_allowed(method: str, allowed: list[str], why: str = "") -> SalesforceError:
    allowed_text = ",".join(allowed)
    message = f"HTTP Method '{method}' not allowed. Allowed are {allowed_text}"
    if why:
        message = f"{why} {message}"
    return SalesforceError(
        "METHOD_NOT_ALLOWED", message, 405, headers={"Allow": ", ".join(allowed)}
    )


def from_service(error: Any) -> SalesforceError:
    """A LifecycleError or SharingError (both carry ``.code`` and ``.message``)."""
    return SalesforceError(error.code, error.message)


def _convert(exc: Exception) -> SalesforceError | None:
    if isinstance(exc, SalesforceError):
        return exc
    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away, or lost a race for a row: Salesforce's "try again
        # later" (or UNABLE_TO_LOCK_ROW), not a bug.
        from cadence_site import middleware

        busy = middleware.is_busy(exc)
        logger.log(
            logging.WARNING if busy else logging.ERROR,
            "Database %s in the Salesforce-compatible API",
            "busy" if busy else "unavailable",
            exc_info=exc,
        )
        code, message, retry_after = middleware.database_error_answer(busy)
        return SalesforceError(code, message, 503, headers={"Retry-After": retry_after})
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        return SalesforceError("INVALID_SESSION_ID", SESSION_INVALID, 401, headers=headers)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return SalesforceError("METHOD_NOT_ALLOWED", str(exc.detail), 405)
    if isinstance(exc, exceptions.ParseError):
        return SalesforceError("JSON_PARSER_ERROR", str(exc.detail), 400)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return SalesforceError("UNSUPPORTED_MEDIA_TYPE", str(exc.detail), 415)
    if isinstance(exc, Http404 | exceptions.NotFound):
        return not_found()
    if isinstance(exc, DjangoPermissionDenied | exceptions.PermissionDenied):
        return SalesforceError(
            "INSUFFICIENT_ACCESS_OR_READONLY", "Insufficient access rights on object", 403
        )
    if isinstance(exc, exceptions.APIException):
        return SalesforceError(str(exc.default_code).upper(), str(exc.detail), exc.status_code)
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    error = _convert(exc)
    if error is None:
        # A bug, not a client mistake: log it with its traceback, answer like Salesforce does.
        logger.exception("Unhandled error in the Salesforce-compatible API", exc_info=exc)
        error = SalesforceError(
            "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please try again.", 500
        )
    set_rollback()
    return Response(error.body(), status=error.status, headers=error.headers)
