"""The admin's import page: upload Salesforce files, preview, then confirm.

For small files (up to ``MAX_UPLOAD_BYTES`` in all). The upload is kept in a
temporary folder named by a random token that only this session knows; the
preview runs the whole import as a dry run (every row checked, nothing kept)
and the confirmation runs it for real. Superusers only: an import writes
every object, sharing included. CSRF protection comes with ``admin_view``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from itertools import islice
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from cadence_site import registry
from cadence_site.sfimport.importer import ImportResult, run_import
from cadence_site.sfimport.readers import SourceError, SourceFile, open_path

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
PREVIEW_ROWS = 5
PREVIEW_ERRORS = 200
SESSION_KEY = "sfimport_uploads"
STALE_AFTER_SECONDS = 86400
UPLOAD_ROOT = os.path.join(tempfile.gettempdir(), "cadence-sfimport")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list:
        files = data if isinstance(data, (list, tuple)) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files if item]


class UploadForm(forms.Form):
    files = MultipleFileField(
        help_text="Data Loader / Data Export CSV (named after the object, e.g. Lead.csv) or "
        "REST query JSON pages; several at once, in any order."
    )
    object_name = forms.ChoiceField(
        label="Object",
        required=False,
        help_text="Only for CSV files whose name does not say their object.",
    )
    atomic = forms.BooleanField(
        label="All or nothing", required=False, help_text="Any bad row cancels the whole import."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["object_name"].choices = [("", "(from the file)")] + [
            (item.name, item.name) for item in registry.all_objects()
        ]

    def clean_files(self) -> list:
        files = self.cleaned_data["files"]
        if not files:
            raise forms.ValidationError("Choose at least one file.")
        total = sum(upload.size for upload in files)
        if total > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"{total:,} bytes is more than this page takes ({MAX_UPLOAD_BYTES:,}); "
                "use manage.py import_salesforce for big files."
            )
        return files


def _folder(token: str) -> str:
    return os.path.join(UPLOAD_ROOT, token)


def _remove_stale_uploads() -> None:
    """Previews nobody confirmed or cancelled: their files go after a day."""
    cutoff = time.time() - STALE_AFTER_SECONDS
    if not os.path.isdir(UPLOAD_ROOT):
        return
    for entry in os.scandir(UPLOAD_ROOT):
        if entry.is_dir() and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry.path, ignore_errors=True)


def _sources(upload: dict[str, Any], token: str) -> list[SourceFile]:
    folder = _folder(token)
    return [
        open_path(os.path.join(folder, name), upload["object_name"] or None)
        for name in upload["names"]
    ]


def _preview(sources: list[SourceFile]) -> list[dict[str, Any]]:
    previews = []
    for source in sources:
        rows = [
            [record.get(column, "") for column in source.columns]
            for _, record in islice(source.records(), PREVIEW_ROWS)
        ]
        previews.append(
            {
                "name": source.name,
                "object": source.sobject.name,
                "columns": source.columns,
                "rows": rows,
                "count": source.count(),
            }
        )
    return previews


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {
        **admin.site.each_context(request),
        "title": "Import from Salesforce",
        **extra,
    }


def _result_context(result: ImportResult) -> dict[str, Any]:
    return {
        "summary": [{"object": name, **vars(counts)} for name, counts in result.counts.items()],
        "errors": [str(error) for error in result.errors[:PREVIEW_ERRORS]],
        "more_errors": max(0, len(result.errors) - PREVIEW_ERRORS),
        "notes": result.notes,
    }


def import_view(request: HttpRequest) -> HttpResponse:
    """GET: the upload form. POST upload: store, dry-run, preview. POST confirm: import."""
    if not request.user.is_superuser:
        raise PermissionDenied("Only superusers can import data.")
    if request.method == "POST" and "token" in request.POST:
        return _confirm(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method != "POST" or not form.is_valid():
        return TemplateResponse(request, "admin/sfimport/upload.html", _context(request, form=form))
    _remove_stale_uploads()
    token = secrets.token_urlsafe(24)
    folder = _folder(token)
    os.makedirs(folder, mode=0o700)
    names = []
    for index, upload in enumerate(form.cleaned_data["files"]):
        # The name says the object (Lead.csv); a prefix keeps two uploads of one name apart.
        name = os.path.basename(upload.name) or f"upload-{index}"
        if name in names:
            name = f"{index}-{name}"
        with open(os.path.join(folder, name), "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        names.append(name)
    upload = {
        "names": names,
        "object_name": form.cleaned_data["object_name"],
        "atomic": form.cleaned_data["atomic"],
    }
    try:
        sources = _sources(upload, token)
    except SourceError as error:
        shutil.rmtree(folder, ignore_errors=True)
        form.add_error("files", str(error))
        return TemplateResponse(request, "admin/sfimport/upload.html", _context(request, form=form))
    uploads = request.session.get(SESSION_KEY, {})
    uploads[token] = upload
    request.session[SESSION_KEY] = uploads
    result = run_import(sources, dry_run=True, atomic=upload["atomic"], actor=request.user)
    context = _context(
        request,
        token=token,
        atomic=upload["atomic"],
        previews=_preview(sources),
        **_result_context(result),
    )
    return TemplateResponse(request, "admin/sfimport/preview.html", context)


def _confirm(request: HttpRequest) -> HttpResponse:
    token = request.POST["token"]
    uploads = request.session.get(SESSION_KEY, {})
    upload = uploads.pop(token, None)
    request.session[SESSION_KEY] = uploads
    if upload is None or not os.path.isdir(_folder(token)):
        messages.error(request, "That upload has expired or was imported already; upload again.")
        return HttpResponseRedirect(reverse("sfimport_admin"))
    try:
        if "cancel" in request.POST:
            messages.info(request, "Import cancelled; nothing was imported.")
            return HttpResponseRedirect(reverse("sfimport_admin"))
        result = run_import(_sources(upload, token), atomic=upload["atomic"], actor=request.user)
    finally:
        shutil.rmtree(_folder(token), ignore_errors=True)
    context = _context(request, rolled_back=result.rolled_back, **_result_context(result))
    return TemplateResponse(request, "admin/sfimport/done.html", context)
