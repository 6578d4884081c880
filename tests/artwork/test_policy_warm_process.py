"""A warm process's artwork between checks: it drops a deactivated variant at once and
re-reads the rest behind the page.

The data is committed (``transaction=True``): the re-read runs on a connection of its own.
That is why this test of test_policy lives apart from it: test_policy's household is built
once for its module (tests/module_world.py), inside a transaction this test cannot run in.
"""

import pytest

from artwork.models import ArtworkVariant
from artwork.selection import artwork_serving
from artwork.services import artwork_variants_set_active
from recommendations.services.training import model_train
from recommendations.serving.homepage import homepage_build
from tests.artwork.test_policy import _artwork_checked_every_page, _items  # noqa: F401
from tests.factories import AccountFactory, ArtworkVariantFactory, ProfileFactory
from tests.recommendations.homepage_world import NOW, build_home_world
from tests.recommendations.test_training import _fresh_serving, watch  # noqa: F401


@pytest.mark.django_db(transaction=True)
def test_a_warm_process_drops_a_deactivated_variant_at_once_and_reloads_behind(settings):
    """Between checks nothing is asked; at a check, changed variants leave before any reload."""
    import time

    world = build_home_world(with_fans=False)
    for title in world.all_titles():
        ArtworkVariantFactory(title=title, label=f"{title.pk} a")
        ArtworkVariantFactory(title=title, label=f"{title.pk} b")
    profile = ProfileFactory(account=AccountFactory(home_region=world.region), name="Warm")
    watch(profile, world.titles["action"][0], days_ago=3)
    model_train(region_code=world.region.code)
    profile.refresh_from_db()
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_CHECK_SECONDS": 0.05}
    served = {i.variant_id for i in _items(homepage_build(profile=profile, device="tv", at=NOW))}
    assert artwork_serving.get().policy_id is None

    off = ArtworkVariant.objects.filter(pk__in=sorted(served)[:10])
    artwork_variants_set_active(variants=off, active=False)
    gone = set(off.values_list("pk", flat=True))
    time.sleep(0.06)
    # The first page after the check already leaves them out, whatever the reload does.
    for hour in range(0, 24, 3):
        page = homepage_build(profile=profile, device="tv", at=NOW.replace(hour=hour))
        assert not gone & {i.variant_id for i in _items(page)}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        artwork_serving._reloading or gone & set(artwork_serving.get().arms.variant.tolist())
    ):
        time.sleep(0.05)
    # The background re-read has replaced the arrays: the variants are gone from them.
    assert not gone & set(artwork_serving.get().arms.variant.tolist())
