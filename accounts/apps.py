from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the sign-in lockout's proxy check)
            schema,  # noqa: F401  (registers the OpenAPI auth extension)
        )
        from .token_usage import token_usage_flush_after_requests

        token_usage_flush_after_requests()
