"""The one rule of who may see a model's rows outside admin: the rule admin itself applies."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser


def may_view(user: AbstractBaseUser | AnonymousUser, label: str) -> bool:
    """Whether admin would show the user the rows of model ``label`` (``app_label.model``).

    As in admin, permission to change a model includes viewing it, and a
    superuser has every permission. Staff status is the caller's to require.
    """
    app_label, model_name = label.split(".")
    return user.has_perm(f"{app_label}.view_{model_name}") or user.has_perm(
        f"{app_label}.change_{model_name}"
    )
