"""The catalogue's revision: what tells serving processes that titles' facts changed."""

from contextlib import suppress

import pytest
from django.db import transaction

from catalog.models import MaturityLevel, Title
from catalog.selectors import catalogue_revision
from regions.models import Availability
from tests.factories import (
    AvailabilityFactory,
    EpisodeFactory,
    GenreFactory,
    RegionFactory,
    SeasonFactory,
    TitleFactory,
)

pytestmark = pytest.mark.django_db


def test_every_save_and_delete_of_what_serving_filters_by_raises_it(
    django_capture_on_commit_callbacks,
):
    title = TitleFactory(maturity=MaturityLevel.ALL)
    region = RegionFactory()

    def re_rate() -> None:
        title.maturity = MaturityLevel.SIXTEEN
        title.save(update_fields=["maturity"])

    changes = {
        "a window opened": lambda: AvailabilityFactory(title=title, region=region),
        "a title re-rated": re_rate,
        "a genre added": lambda: title.genres.add(GenreFactory()),
        "an episode added": lambda: EpisodeFactory(season=SeasonFactory(title=title)),
        "a window closed": lambda: Availability.objects.filter(title=title).delete(),
        "a time zone changed": lambda: region.save(),
    }
    for change, make in changes.items():
        before = catalogue_revision()
        with django_capture_on_commit_callbacks(execute=True):
            make()
        assert catalogue_revision() > before, change


def test_it_is_raised_on_commit_so_a_rolled_back_change_raises_nothing(
    django_capture_on_commit_callbacks,
):
    title = TitleFactory()
    before = catalogue_revision()

    def re_rate_then_fail() -> None:
        with transaction.atomic():
            title.maturity = MaturityLevel.EIGHTEEN
            title.save()
            raise RuntimeError

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        re_rate_then_fail()

    assert callbacks == []
    assert catalogue_revision() == before


def test_a_transaction_that_changes_many_rows_raises_it_once(
    django_capture_on_commit_callbacks,
):
    """A flush of the demo deletes tens of thousands of rows: one raise, not one per row."""
    # given: titles with seasons, episodes, genres and windows, committed
    with django_capture_on_commit_callbacks(execute=True):
        region = RegionFactory()
        titles = [TitleFactory() for _ in range(3)]
        for title in titles:
            title.genres.add(GenreFactory())
            AvailabilityFactory(title=title, region=region)
            EpisodeFactory(season=SeasonFactory(title=title))
            EpisodeFactory(season=SeasonFactory(title=title))
    before = catalogue_revision()

    # when: one transaction deletes them all (every cascaded row sends post_delete)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Title.objects.filter(pk__in=[t.pk for t in titles]).delete()

    # then: a hook per row, and one raise among them
    assert len(callbacks) > 10
    assert catalogue_revision() == before + 1


def test_a_change_after_a_rolled_back_savepoint_still_raises_it(
    django_capture_on_commit_callbacks,
):
    title = TitleFactory()
    before = catalogue_revision()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        # the first change's hook goes with its savepoint...
        with suppress(RuntimeError), transaction.atomic():
            title.maturity = MaturityLevel.EIGHTEEN
            title.save()
            raise RuntimeError
        # ...and the change that stays has its own
        SeasonFactory(title=title)

    assert len(callbacks) == 1
    assert catalogue_revision() == before + 1


@pytest.mark.django_db(transaction=True)
def test_real_transactions_and_autocommit_each_raise_it_once_per_commit():
    # given: a committed title, and a transaction that changed it and rolled back (its
    # hooks are dropped, the raise they shared is left undone on the thread)
    title = TitleFactory()
    before = catalogue_revision()
    with suppress(RuntimeError), transaction.atomic():
        title.maturity = MaturityLevel.EIGHTEEN
        title.save()
        raise RuntimeError
    assert catalogue_revision() == before

    # when: a committed transaction of several changes, then two autocommitted changes
    with transaction.atomic():
        SeasonFactory(title=title)
        SeasonFactory(title=title)
    after_transaction = catalogue_revision()
    title.save()
    title.save()

    # then: one raise for the transaction, one for each autocommitted change
    assert after_transaction == before + 1
    assert catalogue_revision() == before + 3
