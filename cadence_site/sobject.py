"""The standard system fields every Salesforce-style object carries.

Records keep a small integer primary key for joins and indexes (the
visibility subquery depends on it) and expose their 18-character Salesforce
id as ``sf_id``, the API's ``Id``. Imported records keep the id they came with.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from cadence_site import sfid


class SalesforceIdField(models.CharField):
    """An 18-character id, generated from the model's KEY_PREFIX when left empty.

    Generation happens in ``pre_save`` so ``bulk_create`` gets ids too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 18)
        kwargs.setdefault("unique", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("verbose_name", "Id")
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = getattr(model_instance, self.attname)
        if not value:
            value = sfid.generate(model_instance.KEY_PREFIX)
            setattr(model_instance, self.attname, value)
        return value


class SalesforceIdMixin(models.Model):
    """Just the Id; for models (like the user) that have their own audit fields."""

    KEY_PREFIX: str = ""

    sf_id = SalesforceIdField()

    class Meta:
        abstract = True


class SObject(SalesforceIdMixin):
    """Id plus CreatedDate, CreatedById, LastModifiedDate, LastModifiedById, SystemModstamp."""

    created_date = models.DateTimeField("CreatedDate", default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="CreatedById",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    last_modified_date = models.DateTimeField(
        "LastModifiedDate", default=timezone.now, editable=False
    )
    last_modified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="LastModifiedById",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    system_modstamp = models.DateTimeField("SystemModstamp", default=timezone.now, editable=False)
    is_deleted = models.BooleanField("IsDeleted", default=False, editable=False)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.sf_id or super().__str__()

    def stamp(self, user: Any | None, now: Any | None = None) -> None:
        """Record a change by ``user`` (None for the system) at ``now``."""
        now = now or timezone.now()
        if self._state.adding:
            self.created_date = now
            self.created_by = user if user is not None and user.pk else None
        self.last_modified_date = now
        self.last_modified_by = user if user is not None and user.pk else None
        self.system_modstamp = now
