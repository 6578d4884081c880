"""The page a refused sign-in gets once django-axes has locked its username and address."""

import math

from axes.helpers import get_client_username, get_cool_off
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

LOCKED_STATUS = 429


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """The admin's sign-in page saying that this is a lockout, not a wrong password, and
    for how long (axes' ``AXES_LOCKOUT_CALLABLE``).

    Axes' own answer is a bare line of text. Staff reach this form from the console too,
    and should read that typing the password again will not help before the cool-off ends,
    which every further attempt restarts (axes' default).
    """
    cool_off = get_cool_off(request)
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60))
    context = {
        **admin.site.each_context(request),
        "title": "Sign-in locked",
        "username": get_client_username(request, credentials) or "",
        "cooloff_minutes": minutes,
        "next": request.POST.get("next", ""),
    }
    response = render(request, "accounts/login_locked_out.html", context, status=LOCKED_STATUS)
    response["Retry-After"] = str(math.ceil(cool_off.total_seconds()))
    return response
