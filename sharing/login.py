"""Login throttling that holds across every web process and host.

Failed logins are counted per (username, client address) in the database
(``LoginAttempt``). After ``LOGIN_FAILURE_LIMIT`` failures within
``LOGIN_FAILURE_WINDOW_SECONDS`` that pair is locked out for
``LOGIN_LOCKOUT_SECONDS``: no password is checked and the form says so. A
successful login clears the count.

The lockout never says whether the username exists: unknown usernames are
counted and locked exactly like real ones, and the messages are the same.
The dashboards' login page and the admin's both use these forms.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from sharing.models import LoginAttempt

LOCKED_OUT_MESSAGE = (
    "Too many failed logins for this username from your address. "
    "Try again in {minutes} minute{plural}."
)


def client_ip(request: HttpRequest | None) -> str:
    """The client's address: REMOTE_ADDR, or the X-Forwarded-For entry added by the
    outermost of TRUSTED_PROXY_COUNT proxies (entries further left are the client's
    own claims, which anyone can forge)."""
    if request is None:
        return "0.0.0.0"
    address = request.META.get("REMOTE_ADDR") or "0.0.0.0"
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        chain = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(chain) >= hops:
            address = chain[-hops]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "0.0.0.0"


def _key(username: str) -> str:
    return username.strip().lower()[:150]


def claim_attempt(username: str, ip: str) -> timedelta | None:
    """Count a login attempt *before* its password is checked; returns how long the
    pair is locked out if it may not try at all.

    Counting first is what holds the limit against attempts sent in parallel: each
    takes the pair's row lock in turn, so once LOGIN_FAILURE_LIMIT attempts are
    counted (finished or still in flight) the next is refused without a password
    check. A successful login clears the count (``clear``); a failed one keeps it
    and locks the pair when the limit is reached (``confirm_failure``).
    """
    key = _key(username)
    try:
        remaining = _claim(key, ip)
    except IntegrityError:
        # Another process created this pair's row at the same moment; go through its lock.
        remaining = _claim(key, ip)
    _forget_stale()
    return remaining


@transaction.atomic
def _claim(key: str, ip: str) -> timedelta | None:
    now = timezone.now()
    attempt = _locked_attempt(key, ip, now)
    if attempt.locked_until is not None and attempt.locked_until > now:
        return attempt.locked_until - now
    if attempt.failures >= settings.LOGIN_FAILURE_LIMIT:
        attempt.locked_until = now + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
        attempt.save()
        return attempt.locked_until - now
    attempt.failures += 1
    attempt.last_failure_at = now
    attempt.save()
    return None


def confirm_failure(username: str, ip: str) -> None:
    """A claimed attempt failed: lock the pair out once its count reached the limit."""
    now = timezone.now()
    LoginAttempt.objects.filter(
        username=_key(username),
        ip_address=ip,
        failures__gte=settings.LOGIN_FAILURE_LIMIT,
        locked_until__isnull=True,
    ).update(locked_until=now + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS))


def record_failure(username: str, ip: str) -> None:
    """Count one failed login; lock the pair out when it reaches the limit."""
    try:
        _record_failure(_key(username), ip)
    except IntegrityError:
        # Another process recorded this pair's first failure at the same moment;
        # its row exists now, so this time the count goes through the row lock.
        _record_failure(_key(username), ip)
    _forget_stale()


def _locked_attempt(key: str, ip: str, now: datetime) -> LoginAttempt:
    """The pair's row under its lock (a new one, unsaved, for a first attempt), its
    count started afresh when the window or a served lockout is over."""
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    attempt = LoginAttempt.objects.select_for_update().filter(username=key, ip_address=ip).first()
    if attempt is None:
        attempt = LoginAttempt(username=key, ip_address=ip, window_started_at=now)
    elif attempt.window_started_at <= now - window or (
        attempt.locked_until is not None and attempt.locked_until <= now
    ):
        attempt.failures = 0
        attempt.window_started_at = now
        attempt.locked_until = None
    return attempt


@transaction.atomic
def _record_failure(key: str, ip: str) -> None:
    now = timezone.now()
    attempt = _locked_attempt(key, ip, now)
    attempt.failures += 1
    attempt.last_failure_at = now
    if attempt.failures >= settings.LOGIN_FAILURE_LIMIT:
        attempt.locked_until = now + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    attempt.save()


def _forget_stale() -> None:
    """Forget pairs quiet longer than any window or lockout. Run after the pair's own
    transaction, holding no row lock: inside it, two failing pairs could each wait
    for the other's locked row (a deadlock on PostgreSQL)."""
    now = timezone.now()
    stale = now - timedelta(
        seconds=max(settings.LOGIN_FAILURE_WINDOW_SECONDS, settings.LOGIN_LOCKOUT_SECONDS)
    )
    LoginAttempt.objects.filter(last_failure_at__lt=stale).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    ).delete()


def clear(username: str, ip: str) -> None:
    LoginAttempt.objects.filter(username=_key(username), ip_address=ip).delete()


def locked_out_error(remaining: timedelta) -> ValidationError:
    minutes = max(1, math.ceil(remaining.total_seconds() / 60))
    message = LOCKED_OUT_MESSAGE.format(minutes=minutes, plural="" if minutes == 1 else "s")
    return ValidationError(message, code="locked_out")


class ThrottledLoginMixin:
    """Refuses a locked-out (username, address) pair before checking any password,
    counts every attempt before its check and clears the count on success."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request)
        if username:
            # Counted before the password is checked, so parallel attempts can't
            # all slip in under the limit.
            remaining = claim_attempt(username, ip)
            if remaining:
                raise locked_out_error(remaining)
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if username and any(e.code == "invalid_login" for e in error.error_list):
                confirm_failure(username, ip)
            raise
        if self.get_user() is not None:
            clear(username, ip)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
