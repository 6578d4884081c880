"""Teach drf-spectacular how the API authenticates, so the docs page offers the token field.

Each operation documents the one credential it reads: the household operations
the token, the staff operations the admin sign-in's cookie.
"""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AccountTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.AccountTokenAuthentication"
    match_subclasses = True  # profiles' ProfileTokenAuthentication is the same scheme
    name = "accountToken"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "The account's API token, as `Token <key>`.",
        }


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.StaffSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": (
                "Staff only: sign in to admin (`/admin/`) in the same browser; a write also "
                "needs the `X-CSRFToken` header, which the docs page sends."
            ),
        }
