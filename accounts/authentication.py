"""Client apps authenticate as an account, not as a person: ``Authorization: Token <key>``."""

from dataclasses import dataclass

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from .models import Account, ApiToken, hash_token_key

# Writing last_used_at on every request would put a write on the homepage hot path;
# once a minute is precise enough for "is this device still in use?".
LAST_USED_RESOLUTION_SECONDS = 60


@dataclass(frozen=True)
class AccountPrincipal:
    """Stands in for ``request.user`` when a household's device calls the API."""

    account: Account

    is_authenticated = True
    is_staff = False
    is_superuser = False
    is_anonymous = False

    @property
    def pk(self) -> str:
        return f"account:{self.account.pk}"

    def __str__(self) -> str:
        return f"account {self.account.pk}"


class AccountTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[AccountPrincipal, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: use 'Authorization: Token <key>'."
            )
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token header.") from exc
        token = (
            ApiToken.objects.select_related("account__home_region")
            .filter(key_hash=hash_token_key(key), revoked_at__isnull=True)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if (
            token.last_used_at is None
            or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
        ):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return AccountPrincipal(token.account), token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
