"""A hand-typed filter value no Python date can hold is a bad lookup on every admin list.

Django's changelist turns a filter it cannot apply into its redirect to the list with
``?e=1``, but only for errors raised while it builds the queryset. A year out of
``date``'s range (``?created_at__year=20266`` or ``=0``) raises ``ValueError`` only when
the statement is compiled, and the date bar's own bounds (``?created_at__year=99999999999``,
or 9999, whose next year is 10000) raise ``OverflowError`` or ``ValueError`` outside what it
catches: a 500 and an error report for a mistyped address, on every list with a date
column, Django's own user list included.
"""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import DateField, Model
from django.test import Client
from django.urls import reverse

from accounts.models import Account
from catalog.models import Title
from profiles.models import Profile
from recommendations.models import ModelVersion, TrainingRun
from tests.factories import AccountFactory, ProfileFactory, RegionFactory

User = get_user_model()


@pytest.fixture
def staff(db, client: Client) -> Client:
    client.force_login(User.objects.create_superuser("staff", "s@example.com", None))
    client.raise_request_exception = False
    return client


def changelist(model: type[Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def date_column(model: type[Model], model_admin: admin.ModelAdmin) -> str | None:
    """The column of the list's date bar, else the model's first date or date-time column."""
    if model_admin.date_hierarchy:
        return model_admin.date_hierarchy
    dated = (f.name for f in model._meta.concrete_fields if isinstance(f, DateField))
    return next(dated, None)


#: Every list with a date column, ours and those of the apps we install (users, schedules).
DATED_LISTS = sorted(
    (
        (model, column)
        for model, model_admin in admin.site._registry.items()
        if (column := date_column(model, model_admin))
    ),
    key=lambda pair: pair[0]._meta.label,
)


def assert_refused_as_a_bad_lookup(response, model: type[Model]) -> None:
    assert response.status_code == 302, response.status_code
    assert response["Location"] == f"{changelist(model)}?e=1"


@pytest.mark.parametrize(
    "value",
    ["20266", "0", "99999999999"],
    ids=["five-digit-year", "year-zero", "overflowing-year"],
)
@pytest.mark.parametrize(
    ("model", "column"), DATED_LISTS, ids=[model._meta.label for model, _ in DATED_LISTS]
)
def test_a_year_no_date_can_hold_is_a_bad_lookup_on_every_list(
    staff: Client, model: type[Model], column: str, value: str
) -> None:
    response = staff.get(changelist(model), {f"{column}__year": value})

    assert_refused_as_a_bad_lookup(response, model)


def test_the_lists_checked_include_djangos_users_and_ours_with_and_without_a_date_bar() -> None:
    models = {model for model, _ in DATED_LISTS}
    assert {User, Profile, TrainingRun, ModelVersion, Account, Title} <= models
    assert admin.site._registry[Account].date_hierarchy == "created_at"
    assert admin.site._registry[Profile].date_hierarchy is None


@pytest.mark.parametrize(
    "query",
    [
        {"year": "9999"},  # the bar's next year, 10000
        {"year": "9999", "month": "12"},  # its next month
        {"year": "9999", "month": "12", "day": "31"},  # its next day
        {"year": "2026", "month": "99999999999"},
    ],
    ids=["year-9999", "december-9999", "last-day-9999", "overflowing-month"],
)
@pytest.mark.parametrize("model", [Account, Title], ids=["households", "titles"])
def test_a_date_bar_whose_bounds_no_date_can_hold_is_a_bad_lookup(
    staff: Client, model: type[Model], query: dict[str, str]
) -> None:
    column = admin.site._registry[model].date_hierarchy

    response = staff.get(changelist(model), {f"{column}__{k}": v for k, v in query.items()})

    assert_refused_as_a_bad_lookup(response, model)


@pytest.mark.parametrize("query", [{"year__gt": "99999"}, {"year__lte": "0"}])
@pytest.mark.parametrize(
    ("model", "column"),
    [(Account, "created_at"), (Profile, "created_at"), (User, "date_joined")],
    ids=["households", "profiles", "users"],
)
def test_a_year_comparison_no_date_can_hold_is_a_bad_lookup(
    staff: Client, model: type[Model], column: str, query: dict[str, str]
) -> None:
    response = staff.get(changelist(model), {f"{column}__{k}": v for k, v in query.items()})

    assert_refused_as_a_bad_lookup(response, model)


def test_a_year_in_range_still_filters_and_an_overflowing_id_still_lists_nothing(
    staff: Client,
) -> None:
    # given: households with profiles, made this year
    region = RegionFactory()
    profiles = [ProfileFactory(account=AccountFactory(home_region=region)) for _ in range(2)]
    year = profiles[0].created_at.year

    # when / then: a year a date holds lists its rows, on a list without a date bar and with one
    for model, rows in ((Profile, profiles), (Account, [p.account for p in profiles])):
        response = staff.get(changelist(model), {"created_at__year": str(year)})
        assert response.status_code == 200
        assert {row.pk for row in response.context["cl"].result_list} == {r.pk for r in rows}
        response = staff.get(changelist(model), {"created_at__year": str(year - 1)})
        assert list(response.context["cl"].result_list) == []
    # and an id past a big integer's range matches no row, as Django decides (not a bad lookup)
    response = staff.get(changelist(Profile), {"id__exact": "99999999999999999999"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
