"""recommendations.serving.explain: the explanation is of the served decision, term by term."""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone
from scipy.special import expit

from catalog.models import MaturityLevel
from recommendations.engine.candidates import ALL_SOURCES, Source
from recommendations.engine.ranking import (
    FEATURE_NAMES,
    ROW_POSITION_FEATURES,
    SLOT_POSITION_FEATURES,
)
from recommendations.services.training import model_train
from recommendations.serving.explain import (
    FEATURE_LABELS,
    SOURCE_REASONS,
    UnknownTitle,
    title_explanation,
)
from recommendations.serving.recommend import profile_ranked_pool
from recommendations.serving.scoring import MATCH_SHOWN_MIN
from tests.factories import AvailabilityFactory, ProfileFactory, TitleFactory
from tests.recommendations.test_training import record

pytestmark = pytest.mark.django_db

# Features whose value is the request's (the same for every candidate) or the title's own.
PER_REQUEST = {"device_tv", "device_mobile", "device_tablet", "device_web", "weekend"}
PER_REQUEST |= {"recent_activity", *ROW_POSITION_FEATURES, *SLOT_POSITION_FEATURES}
PER_TITLE = {"region_popularity", "release_recency"}


def test_every_ranking_feature_has_a_label_staff_can_read():
    assert set(FEATURE_LABELS) == set(FEATURE_NAMES)


def test_terms_add_up_to_the_served_probability_and_sources_match_the_pool(world):
    # given: the ranked pool the API serves for the profile now
    profile = world.action_fan
    at = timezone.now()
    bundle, pool = profile_ranked_pool(profile=profile, device="tv", at=at)
    ranker = bundle.ranker

    for position in (0, len(pool) // 2, len(pool) - 1):
        title_id = int(bundle.index.title_ids[pool.title_index[position]])

        # when
        explanation = title_explanation(
            profile=profile, device="tv", at=at, title_id=title_id, model_version=bundle.version_id
        )

        # then: the same rank, probability, match and sources as served (no match for
        # the title being resumed, which leads the pool)
        assert explanation.model_version == bundle.version_id
        assert explanation.in_pool
        assert explanation.pool_rank == position + 1
        assert explanation.probability == pytest.approx(float(pool.probability[position]))
        assert explanation.match == pool.shown_match(np.array([position]))[0]
        hidden = bool(pool.resuming[position]) or pool.match[position] < MATCH_SHOWN_MIN
        assert (explanation.match is None) == hidden
        assert bool(explanation.match_withheld) == hidden
        expected = {
            name
            for name, bit in (("cf", 1), ("content", 2), ("trending", 4), ("new_release", 8))
            if int(pool.sources[position]) & bit
        } | ({"continue_watching"} if int(pool.sources[position]) & 16 else set())
        expected |= {"catalogue"} if int(pool.sources[position]) & 32 else set()
        assert {s.name for s in explanation.sources} == expected
        # and the terms, through the calibration, give that probability back
        logit = explanation.intercept + sum(f.contribution for f in explanation.features)
        calibrated = expit(ranker.platt_slope * logit + ranker.platt_intercept)
        assert calibrated == pytest.approx(explanation.probability, rel=1e-4)


def test_every_source_has_a_reason():
    assert set(SOURCE_REASONS) == set(ALL_SOURCES)


def test_a_title_only_the_catalogue_fill_brought_says_so(world):
    # given: a film nobody has played, years old, and a profile with no history, whose
    # generators (trending and new releases) propose every other film but not that one
    unplayed = TitleFactory(maturity=MaturityLevel.ALL, release_date=dt.date(2015, 1, 1))
    AvailabilityFactory(
        title=unplayed,
        region=world.home.region,
        starts_at=timezone.now() - dt.timedelta(days=900),
    )
    newcomer = ProfileFactory(account=world.account, name="New")
    model_train(region_code=world.home.region.code)

    # when
    explanation = title_explanation(
        profile=newcomer, device="tv", at=timezone.now(), title_id=unplayed.pk
    )

    # then: in the pool, brought by the fill alone, with the sentence that says why
    assert explanation.in_pool
    assert [(s.name, s.reason) for s in explanation.sources] == [
        ("catalogue", SOURCE_REASONS[Source.CATALOGUE])
    ]


def test_title_specific_terms_come_before_the_context(world):
    bundle, pool = profile_ranked_pool(profile=world.romance_fan, device="mobile")
    title_id = int(bundle.index.title_ids[pool.title_index[0]])

    explanation = title_explanation(
        profile=world.romance_fan, device="mobile", at=timezone.now(), title_id=title_id
    )

    flags = [f.context for f in explanation.features]
    assert flags == sorted(flags)  # False (title-specific) first
    for feature in explanation.features:
        if feature.name in PER_REQUEST:
            assert feature.context, feature.name
        if feature.name in PER_TITLE:
            assert not feature.context, feature.name
    assert {f.name for f in explanation.features} & PER_TITLE
    title_terms = [abs(f.contribution) for f in explanation.features if not f.context]
    assert title_terms == sorted(title_terms, reverse=True)


def test_a_thumbed_down_title_is_explained_by_the_filter_it_failed(world):
    disliked = world.home.titles["romance"][6]
    record(world.action_fan, "thumbs_down", disliked, days_ago=0.1)

    explanation = title_explanation(
        profile=world.action_fan, device="tv", at=timezone.now(), title_id=disliked.pk
    )

    assert not explanation.in_pool
    assert explanation.sources == ()
    assert "The profile gave it a thumbs down." in explanation.excluded
    assert 0.0 < explanation.probability < 1.0


def test_a_title_above_a_kids_limit_is_explained_by_the_limit(world):
    mature = world.home.titles["romance"][6]
    mature.maturity = MaturityLevel.SIXTEEN
    mature.save()
    reason = "Above the profile's maturity limit."

    def explained(profile):
        return title_explanation(
            profile=profile, device="tv", at=timezone.now(), title_id=mature.pk
        )

    for_kid, for_adult = explained(world.kid), explained(world.romance_fan)

    assert not for_kid.in_pool
    assert reason in for_kid.excluded
    assert reason not in for_adult.excluded


def test_a_title_the_model_never_saw_is_refused(world):
    newcomer = TitleFactory()

    with pytest.raises(UnknownTitle):
        title_explanation(
            profile=world.action_fan, device="tv", at=timezone.now(), title_id=newcomer.pk
        )


def test_probabilities_of_explained_titles_follow_the_pool_order(world):
    bundle, pool = profile_ranked_pool(profile=world.kid, device="tablet")
    at = timezone.now()
    picks = pool.title_index[: min(5, len(pool))]

    probabilities = [
        title_explanation(
            profile=world.kid,
            device="tablet",
            at=at,
            title_id=int(bundle.index.title_ids[t]),
        ).probability
        for t in picks
    ]

    assert np.all(np.diff(probabilities) <= 1e-7)
