"""Teach drf-spectacular how client apps authenticate, so the docs page offers the token field."""

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
