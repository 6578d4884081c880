"""Who may open which console page: the model permissions admin asks to show the same rows.

Being staff lets one into admin, not into every model of it; the console shows
households, profiles and what their viewing history makes of them, so it asks
for the permissions admin would before listing those models. As in admin,
permission to change a model includes viewing it, and superusers have every
permission.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache

from config.permissions import may_view

View = Callable[..., HttpResponse]

#: Households, their profiles, and homepages built from their signals: the household
#: search, preview, comparison and "why" pages.
HOUSEHOLDS = ("accounts.account", "profiles.profile", "recommendations.signal")
#: Model versions and the retrains that made them.
MODELS = ("recommendations.modelversion", "recommendations.trainingrun")
#: The artwork policy's versions, variants and their daily take rates.
ARTWORK = ("artwork.artworkpolicy", "artwork.artworkvariant", "artwork.artworkvariantdaily")

SECTIONS = {"households": HOUSEHOLDS, "models": MODELS, "artwork": ARTWORK}
#: Each section's first page, in the order the admin's "View site" link prefers them.
SECTION_PAGES = {
    "households": "console:index",
    "models": "console:models",
    "artwork": "console:artwork",
}


def can_view(user: AbstractBaseUser | AnonymousUser, models: tuple[str, ...]) -> bool:
    """Whether admin would list every one of ``models`` (``app_label.model_name``) to the user."""
    return user.is_active and user.is_staff and all(may_view(user, label) for label in models)


def console_sections(user: AbstractBaseUser | AnonymousUser) -> dict[str, bool]:
    """Which of the console's sections the user may open, for its navigation."""
    return {name: can_view(user, models) for name, models in SECTIONS.items()}


def console_home(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The first console page the user may open; None for those who may open none."""
    sections = console_sections(user)
    return next((reverse(page) for name, page in SECTION_PAGES.items() if sections[name]), None)


def console_page(*models: str) -> Callable[[View], View]:
    """Staff only (others go to the admin login), and 403 for staff without ``models``.

    Never cached, as admin's pages are not: they show households' profiles and what
    their viewing makes of them, which no browser or proxy cache should keep.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if not can_view(request.user, models):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return never_cache(staff_member_required(checked))

    return decorator
