"""Admin base classes shared by the trackers and sharing apps."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

SYSTEM_FIELDS = (
    "sf_id",
    "created_date",
    "created_by",
    "last_modified_date",
    "last_modified_by",
    "system_modstamp",
)


class SObjectAdmin(admin.ModelAdmin):
    """Editable Salesforce-style objects: system fields read-only, stamped on save."""

    readonly_fields = SYSTEM_FIELDS

    def get_fieldsets(self, request: HttpRequest, obj=None):
        if self.fieldsets:
            return super().get_fieldsets(request, obj)
        fields = [name for name in self.get_fields(request, obj) if name not in SYSTEM_FIELDS]
        fieldsets = [(None, {"fields": fields})]
        if obj is not None:  # nothing to show before the record exists
            fieldsets.append(("System fields", {"fields": SYSTEM_FIELDS, "classes": ["collapse"]}))
        return fieldsets

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        obj.stamp(request.user)
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        for instance in formset.save(commit=False):
            instance.stamp(request.user)
            instance.save()
        for instance in formset.deleted_objects:
            instance.delete()
        formset.save_m2m()
