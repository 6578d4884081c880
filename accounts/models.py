"""Households (accounts), the people who sign in for them, and their API tokens."""

import hashlib

from django.conf import settings
from django.db import models

from regions.models import Region


class Account(models.Model):
    """A household: one subscription, up to five profiles, one home region."""

    name = models.CharField(max_length=200, db_index=True)
    home_region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="accounts")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="accounts", blank=True)
    external_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def hash_token_key(key: str) -> str:
    """Tokens are stored as SHA-256 digests: a leaked table does not leak working keys.

    Keys are 256-bit random strings, so a fast hash is enough (no password stretching).
    """
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A key a client app presents as ``Authorization: Token <key>``; it acts for one account."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="Which device or app holds it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(
        max_length=8, editable=False, help_text="First characters of the key, to recognise it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    #: What ``__str__`` calls the household instead of its name: admin sets it (an
    #: annotation) on the tokens it reads for staff who may not view households
    #: (``config.admin_households``).
    household_shown_as: str | None = None

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.household_shown_as or self.account})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
