"""What Django's error reports (the DEBUG page, a mail to ADMINS) may show of a request.

A profile's PIN and its unlock token open a locked or a guardian's profile for an
hour, like a password: Django hides headers and settings whose names look like
secrets (``AUTH``, ``TOKEN``, ...), and ``X-Profile-Unlock`` looks like none. The
functions that hold a raw PIN hide their variables with ``sensitive_variables``.
"""

import re

from django.http import HttpRequest, QueryDict
from django.views.debug import SafeExceptionReporterFilter


class ReportFilter(SafeExceptionReporterFilter):
    """Django's filter, also hiding the profile unlock header and anything named PIN."""

    hidden_settings = re.compile(
        SafeExceptionReporterFilter.hidden_settings.pattern + "|UNLOCK|PIN", flags=re.I
    )

    def get_post_parameters(self, request: HttpRequest | None) -> QueryDict | dict:
        """The form body, PINs hidden: the API takes form bodies too, and its views get
        DRF's request, which ``sensitive_post_parameters`` refuses to mark."""
        shown = super().get_post_parameters(request)
        hidden = [key for key in shown if self.hidden_settings.search(key)]
        if not hidden:
            return shown
        shown = shown.copy()
        for key in hidden:
            shown[key] = self.cleansed_substitute
        return shown
