"""One error shape for the whole DRF API: ``{"detail", "code"}`` (plus ``fields`` for
validation errors), with Salesforce's errorCodes so both API surfaces speak alike.

Status codes for refused lifecycle actions:

- 400: the request itself is wrong (bad CompletionDisposition, resume time in the past).
- 403: the user can read the tracker but lacks Edit (or All) access. Reading is
  allowed, so the 403 reveals nothing a GET would not.
- 404: the tracker does not exist for this user (missing, deleted or not shared).
- 409: the tracker's current state forbids the action (already Complete, Processing
  a bulk job, not Paused...) or someone changed it at the same moment; reload and retry.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from sharing.services import SharingError
from trackers import lifecycle

_LIFECYCLE_STATUS = (
    (lifecycle.NotFound, status.HTTP_404_NOT_FOUND),
    (lifecycle.InsufficientAccess, status.HTTP_403_FORBIDDEN),
    (lifecycle.ConcurrentChange, status.HTTP_409_CONFLICT),
    (lifecycle.InvalidTransition, status.HTTP_409_CONFLICT),
)
_SHARING_STATUS = {
    "NOT_FOUND": status.HTTP_404_NOT_FOUND,
    "INSUFFICIENT_ACCESS_OR_READONLY": status.HTTP_403_FORBIDDEN,
}
# DRF's own codes, said the Salesforce way.
_DRF_CODES = {
    "not_authenticated": "INVALID_SESSION_ID",
    "authentication_failed": "INVALID_SESSION_ID",
    "permission_denied": "INSUFFICIENT_ACCESS_OR_READONLY",
    "not_found": "NOT_FOUND",
    "method_not_allowed": "METHOD_NOT_ALLOWED",
    "parse_error": "JSON_PARSER_ERROR",
    "unsupported_media_type": "UNSUPPORTED_MEDIA_TYPE",
    "not_acceptable": "NOT_ACCEPTABLE",
    "throttled": "REQUEST_LIMIT_EXCEEDED",
    "required": "REQUIRED_FIELD_MISSING",
    "null": "REQUIRED_FIELD_MISSING",
}


class ApiError(exceptions.APIException):
    def __init__(self, message: str, code: str, status_code: int) -> None:
        self.status_code = status_code
        super().__init__(message, code)


class ErrorSerializer(serializers.Serializer):
    """How every API error looks."""

    detail = serializers.CharField()
    code = serializers.CharField(help_text="Salesforce-style errorCode, e.g. NOT_FOUND.")
    fields = serializers.DictField(
        required=False, help_text="Validation errors: messages by input field."
    )


def lifecycle_error(error: lifecycle.LifecycleError) -> ApiError:
    code = next((code for kind, code in _LIFECYCLE_STATUS if isinstance(error, kind)), 400)
    return ApiError(error.message, error.code, code)


def sharing_error(error: SharingError) -> ApiError:
    return ApiError(error.message, error.code, _SHARING_STATUS.get(error.code, 400))


def _salesforce_code(code: str | None) -> str:
    code = code or "invalid"
    if code.isupper():
        return code
    return _DRF_CODES.get(code, "INVALID_FIELD")


def _messages(detail: Any, prefix: str = "") -> list[tuple[str, str, str]]:
    """(field path, message, code) for every message in a DRF error detail."""
    if isinstance(detail, dict):
        found = []
        for key, value in detail.items():
            path = key if key == "non_field_errors" else f"{prefix}{key}"
            found += _messages(value, "" if path == "non_field_errors" else f"{path}.")
        return found
    if isinstance(detail, list):
        return [item for value in detail for item in _messages(value, prefix)]
    return [(prefix.rstrip("."), str(detail), getattr(detail, "code", "invalid"))]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, lifecycle.LifecycleError):
        exc = lifecycle_error(exc)
    elif isinstance(exc, SharingError):
        exc = sharing_error(exc)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        messages = _messages(exc.detail)
        response.data = {
            "detail": "; ".join(
                f"{path}: {text}" if path and path != "non_field_errors" else text
                for path, text, _code in messages
            ),
            "code": _salesforce_code(messages[0][2]) if messages else "INVALID_FIELD",
            "fields": exc.detail
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail},
        }
    else:
        # DRF turned Http404 and PermissionDenied into NotFound/PermissionDenied details.
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        response.data = {
            "detail": str(detail),
            "code": _salesforce_code(getattr(detail, "code", "error")),
        }
    return response
