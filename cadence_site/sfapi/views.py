"""The Salesforce-compatible REST surface (SPEC 5.1), under /services/data/v{NN.N}/.

Views are thin: authentication, the object's supported calls and the HTTP shape
live here; reading, querying, writing and actions live in their modules. Every
view authenticates with a bearer token (the token's user and their sharing) and
answers errors as ``[{"message", "errorCode"}]``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cadence_site.registry import SObjectType
from cadence_site.sfapi import actions, describe, query, records, replication, writes
from cadence_site.sfapi.errors import (
    SalesforceError,
    exception_handler,
    method_not_allowed,
    not_found,
)
from sharing.authentication import BearerTokenAuthentication

# Which call each HTTP method of a record URL needs, for Allow headers.
_RECORD_CALLS = {"GET": "retrieve", "HEAD": "retrieve", "PATCH": "update", "DELETE": "delete"}


class SalesforceView(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    metadata_class = None  # no OPTIONS metadata: Salesforce has none
    schema = None  # Salesforce's own documentation describes this surface, not our OpenAPI

    def get_exception_handler(self):
        return exception_handler

    @property
    def default_response_headers(self) -> dict[str, str]:
        headers = super().default_response_headers
        headers.pop("Allow", None)  # only a 405 says what is allowed, for the object at hand
        return headers

    def http_method_not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        allowed = [method for method in self.allowed_methods if method != "OPTIONS"]
        raise method_not_allowed(request.method, allowed)


def _require_call(sobject: SObjectType, call: str) -> None:
    if not sobject.supports(call):
        raise SalesforceError(
            "INVALID_TYPE_FOR_OPERATION",
            f"{sobject.name} does not support {call}(); its calls are "
            f"{', '.join(sorted(sobject.calls))}.",
        )


def _refuse_method(request: Request, sobject: SObjectType, call: str, methods: dict) -> None:
    """405 for a write the object does not support (ActionCadenceTracker is neither
    createable nor updateable), naming the methods it does support at this URL."""
    if sobject.supports(call):
        return
    allowed = [method for method, needed in methods.items() if sobject.supports(needed)]
    adjective = {"create": "createable", "update": "updateable", "delete": "deletable"}[call]
    raise method_not_allowed(request.method, allowed, f"{sobject.name} is not {adjective}.")


class ResourcesView(SalesforceView):
    def get(self, request: Request, version: str) -> Response:
        base = f"/services/data/v{version}"
        return Response(
            {"sobjects": f"{base}/sobjects", "query": f"{base}/query", "actions": f"{base}/actions"}
        )


class GlobalDescribeView(SalesforceView):
    def get(self, request: Request, version: str) -> Response:
        return Response(describe.describe_global(version))


class SObjectView(SalesforceView):
    """``sobjects/{Object}``: basic information (GET) and create (POST)."""

    def get(self, request: Request, version: str, sobject: str) -> Response:
        target = records.get_sobject(sobject)
        return Response(
            {"objectDescribe": describe.global_entry(version, target), "recentItems": []}
        )

    def post(self, request: Request, version: str, sobject: str) -> Response:
        target = records.get_sobject(sobject)
        _refuse_method(request, target, "create", {"GET": "describeSObjects", "POST": "create"})
        values = writes.parse_body(target, request.data, request.user, creating=True)
        record = writes.writer_for(target).create(request.user, values)
        return Response({"id": record.sf_id, "success": True, "errors": []}, status=201)


class DescribeView(SalesforceView):
    def get(self, request: Request, version: str, sobject: str) -> Response:
        target = records.get_sobject(sobject)
        _require_call(target, "describeSObjects")
        return Response(describe.describe_sobject(version, target))


class RecordView(SalesforceView):
    """``sobjects/{Object}/{id}``: retrieve, update, delete."""

    def get(self, request: Request, version: str, sobject: str, record_id: str) -> Response:
        target = records.get_sobject(sobject)
        _require_call(target, "retrieve")
        fields_param = request.query_params.get("fields")
        if fields_param:
            specs = records.resolve_fields(target, fields_param.split(","))
            id_spec = target.field("Id")
            if id_spec not in specs:
                specs.append(id_spec)  # Salesforce always returns the Id
        else:
            specs = list(target.fields)
        queryset = records.readable(target, request.user).select_related(
            *records.select_related_for(specs)
        )
        record = records.find(target, request.user, record_id, queryset)
        return Response(records.serialize(version, target, record, specs))

    def patch(self, request: Request, version: str, sobject: str, record_id: str) -> Response:
        target = records.get_sobject(sobject)
        _refuse_method(request, target, "update", _RECORD_CALLS)
        record = records.find(target, request.user, record_id)
        values = writes.parse_body(target, request.data, request.user, creating=False)
        writes.writer_for(target).update(request.user, record, values)
        return Response(status=204)

    def delete(self, request: Request, version: str, sobject: str, record_id: str) -> Response:
        target = records.get_sobject(sobject)
        _refuse_method(request, target, "delete", _RECORD_CALLS)
        record = records.find(target, request.user, record_id)
        writes.writer_for(target).delete(request.user, record)
        return Response(status=204)


class UpdatedView(SalesforceView):
    def get(self, request: Request, version: str, sobject: str) -> Response:
        target = records.get_sobject(sobject)
        _require_call(target, "getUpdated")
        return Response(replication.get_updated(target, request.user, request.query_params))


class DeletedView(SalesforceView):
    def get(self, request: Request, version: str, sobject: str) -> Response:
        target = records.get_sobject(sobject)
        _require_call(target, "getDeleted")
        return Response(replication.get_deleted(target, request.user, request.query_params))


class QueryView(SalesforceView):
    def get(self, request: Request, version: str) -> Response:
        text = request.query_params.get("q")
        if not text:
            raise SalesforceError("MALFORMED_QUERY", "A query string has to be specified (?q=).")
        size = query.batch_size(request.headers.get("Sforce-Query-Options"))
        return Response(query.run(text, request.user, version, size))


class QueryMoreView(SalesforceView):
    def get(self, request: Request, version: str, locator: str) -> Response:
        return Response(query.more(locator, request.user, version))


class ActionListView(SalesforceView):
    def get(self, request: Request, version: str) -> Response:
        return Response(actions.list_actions())


class ActionView(SalesforceView):
    def get(self, request: Request, version: str, action: str) -> Response:
        return Response(actions.get_action(action).describe())

    def post(self, request: Request, version: str, action: str) -> Response:
        found = actions.get_action(action)
        return Response(actions.invoke(found, request.user, request.data))


class UnknownResourceView(SalesforceView):
    """Anything else under /services/data/vNN.N/: Salesforce's 404, after authentication."""

    def _not_found(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise not_found()

    get = post = put = patch = delete = _not_found
