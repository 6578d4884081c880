"""The narrow roles operators build from groups: every admin page answers each one cleanly.

A catalogue editor, a support agent, an ML engineer and a read-only analyst, each a member
of a group holding only their role's permissions, open every page of every admin (list,
add, change, history, delete) and every related-object picker, then the console and the
staff API. No page may fail (a 500), the console and API answer as the README says, no
admin page names a household to a role that may not view households, and none names a
user (a household's member, who asked for a retrain, who changed a row) to a role that may
not view users.
"""

from collections.abc import Iterator

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Model, Q
from django.test import Client
from django.urls import reverse

from accounts.models import Account
from recommendations.models import TrainingRun
from tests.test_admin import catalogue  # noqa: F401  (the module's seeded catalogue)

pytestmark = pytest.mark.django_db

#: Each role's permissions: (app label, model or None for every model, actions).
ROLES: dict[str, list[tuple[str, str | None, tuple[str, ...]]]] = {
    "catalogue editor": [
        ("catalog", None, ("view", "add", "change", "delete")),
        ("artwork", "artworkvariant", ("view", "add", "change", "delete")),
        ("artwork", "artworktheme", ("view", "add", "change", "delete")),
    ],
    "support agent": [
        ("accounts", "account", ("view",)),
        ("profiles", "profile", ("view",)),
    ],
    "ML engineer": [
        ("recommendations", "trainingrun", ("view", "change")),
        ("recommendations", "modelversion", ("view", "change")),
        ("regions", "tastecluster", ("view",)),
    ],
    "read-only analyst": [
        ("recommendations", "signal", ("view",)),
        ("recommendations", "pagelog", ("view",)),
        ("recommendations", "profiletitlestate", ("view",)),
        ("catalog", "title", ("view",)),
    ],
}

#: What each role gets from the console's sections and the staff API's GET of a run.
CONSOLE = {
    "catalogue editor": {"/console/": 403, "/console/models/": 403, "/console/artwork/": 403},
    "support agent": {"/console/": 403, "/console/models/": 403, "/console/artwork/": 403},
    "ML engineer": {"/console/": 403, "/console/models/": 200, "/console/artwork/": 403},
    "read-only analyst": {"/console/": 403, "/console/models/": 403, "/console/artwork/": 403},
}
RUN_API = {
    "catalogue editor": 403,
    "support agent": 403,
    "ML engineer": 200,
    "read-only analyst": 403,
}


def role_client(role: str) -> Client:
    group = Group.objects.create(name=role)
    wanted = Q(pk__in=[])
    for app_label, model, actions in ROLES[role]:
        one = Q(content_type__app_label=app_label) & Q(codename__regex=rf"^({'|'.join(actions)})_")
        if model is not None:
            one &= Q(content_type__model=model)
        wanted |= one
    group.permissions.add(*Permission.objects.filter(wanted))
    user = get_user_model().objects.create_user(role.replace(" ", "-"), is_staff=True)
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


def admin_pages() -> Iterator[str]:
    """Every admin page of every registered model, about its first row, and each picker."""
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}"
        yield reverse(f"{name}_changelist")
        yield reverse(f"{name}_add")
        row: Model | None = model._default_manager.order_by("pk").first()
        if row is not None:
            for view in ("change", "history", "delete"):
                yield reverse(f"{name}_{view}", args=[quote(row.pk)])
        for field in model_admin.autocomplete_fields:
            yield (
                f"{reverse('admin:autocomplete')}?app_label={opts.app_label}"
                f"&model_name={opts.model_name}&field_name={field}&term=a"
            )


def people_named() -> list[str]:
    """Usernames on the first household (a member) and the first run (who asked for it),
    each with an entry in those rows' admin history, returned with their e-mails."""
    users = get_user_model().objects
    member = users.create_user("priya-member", "priya@example.net")
    operator = users.create_user("ravi-operator", "ravi@example.net", is_staff=True)
    household = Account.objects.order_by("pk").first()
    household.users.add(member)
    run = TrainingRun.objects.order_by("pk").first()
    TrainingRun.objects.filter(pk=run.pk).update(requested_by=operator)
    for row in (household, run):
        LogEntry.objects.log_actions(
            user_id=operator.pk, queryset=[row], action_flag=CHANGE, change_message="Looked."
        )
    return [member.username, member.email, operator.username, operator.email]


@pytest.mark.parametrize("role", list(ROLES))
def test_every_admin_page_answers_each_role_without_failing(catalogue, role: str) -> None:  # noqa: F811
    client = role_client(role)
    may_view_households = role == "support agent"
    households = list(Account.objects.values_list("name", flat=True))
    # None of the roles may view users: they read "user #5" where a username was
    people = people_named()

    for url in admin_pages():
        response = client.get(url)

        assert response.status_code in (200, 302, 403), url
        if response.status_code != 200:
            continue
        page = response.content.decode()
        if not may_view_households:
            assert not [name for name in households if name in page], url
        assert not [name for name in people if name in page], url


@pytest.mark.parametrize("role", list(ROLES))
def test_the_console_and_the_staff_api_answer_each_role_as_documented(
    catalogue,  # noqa: F811
    role: str,
) -> None:
    client = role_client(role)
    run = TrainingRun.objects.order_by("pk").first()

    answered = {url: client.get(url).status_code for url in CONSOLE[role]}
    polled = client.get(f"/api/v1/ops/retrains/{run.pk}/")

    assert answered == CONSOLE[role]
    assert polled.status_code == RUN_API[role]
