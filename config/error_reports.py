"""What Django's error reports (the DEBUG page, a mail to ADMINS) may show of a request.

A profile's PIN and its unlock token open a locked or a guardian's profile for an
hour, like a password: Django hides headers and settings whose names look like
secrets (``AUTH``, ``TOKEN``, ...), and ``X-Profile-Unlock`` looks like none. The
functions that hold a raw PIN hide their variables with ``sensitive_variables``.
"""

import re

from django.views.debug import SafeExceptionReporterFilter


class ReportFilter(SafeExceptionReporterFilter):
    """Django's filter, also hiding the profile unlock header and anything named PIN."""

    hidden_settings = re.compile(
        SafeExceptionReporterFilter.hidden_settings.pattern + "|UNLOCK|PIN", flags=re.I
    )
