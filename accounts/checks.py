"""Deployment check for what the sign-in lockout needs to know about the proxy in front."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def sign_in_lockout_address_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Warn when a TLS proxy is trusted but the client's address behind it is not read.

    The lockout counts wrong passwords per username and client address. Behind a
    proxy the connection's address is the proxy's, the same for everybody: whoever
    guesses a username's password from anywhere locks it out for everyone.
    """
    if not getattr(settings, "SECURE_PROXY_SSL_HEADER", None) or settings.TRUST_X_FORWARDED_FOR:
        return []
    return [
        checks.Warning(
            "The app is behind a proxy (TRUST_X_FORWARDED_PROTO) but takes the connection's "
            "address as the client's, so every client signs in from the proxy's address: "
            "a few wrong passwords from anywhere lock a username out for everyone.",
            hint="Have the proxy append the client's address to X-Forwarded-For and set "
            "TRUST_X_FORWARDED_FOR to the number of proxies in front (usually 1).",
            id="tonight.W003",
        )
    ]
