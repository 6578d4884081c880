"""Off-policy estimators: unbiased values, intervals that cover, and refusals without propensities.

The simulated log: impressions of titles with 2-5 variants, each variant
picked uniformly (propensity 1/k), rewarded with a known take rate that
depends on the profile's segment and the variant. The candidate is a
deterministic policy (always the variant with index ``segment % k``), whose
true value is computed from the same take rates.
"""

import numpy as np
import pytest

from recommendations.engine.offpolicy import PolicyValue, ips_value, snips_value


def uniform_log(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    k = rng.integers(2, 6, n)
    shown = (rng.random(n) * k).astype(np.int64)
    segment = rng.integers(0, 3, n)
    rates = np.array([[0.05, 0.15, 0.10, 0.02, 0.08], [0.20, 0.05, 0.03, 0.12, 0.06]])
    rate = np.where(segment == 0, rates[0][shown], rates[1][shown])
    target_arm = segment % k
    target_rate = np.where(segment == 0, rates[0][target_arm], rates[1][target_arm])
    return {
        "reward": (rng.random(n) < rate).astype(np.float64),
        "logged_propensity": 1.0 / k,
        "target_probability": (shown == target_arm).astype(np.float64),
        "true_value": target_rate,
    }


ESTIMATORS = [ips_value, snips_value]


@pytest.mark.parametrize("estimate", ESTIMATORS)
def test_recovers_a_deterministic_policys_value_from_uniform_logs(estimate):
    # given
    log = uniform_log(40_000, np.random.default_rng(0))
    truth = float(log.pop("true_value").mean())

    # when (a 99.9% interval: one log, so a correct estimator misses with probability 0.001)
    result = estimate(**log, confidence=0.999)

    # then
    assert isinstance(result, PolicyValue)
    assert result.low <= truth <= result.high
    assert result.low < result.value < result.high
    assert result.high - result.low < 0.02  # the true value is about 0.06
    assert result.n == 40_000
    assert result.confidence == 0.999
    # One impression in ~3.5 matches the candidate: the reweighted log is worth about that many.
    assert 40_000 / 5 < result.effective_sample_size < 40_000 / 2


@pytest.mark.parametrize("estimate", ESTIMATORS)
def test_intervals_cover_the_true_value_as_often_as_they_claim(estimate):
    """95% intervals over 400 independent logs: coverage and width both calibrated.

    With 400 replications, the number of covering intervals of a correct 95%
    procedure lies within 360..395 with probability above 0.9999; an interval
    from a standard error off by 30% either way falls outside. The half-width
    must also match 1.96 x the spread of the estimates across replications.
    """
    rng = np.random.default_rng(1)
    covered, values, halves = 0, [], []
    for _ in range(400):
        log = uniform_log(3_000, rng)
        truth = float(log.pop("true_value").mean())
        result = estimate(**log)
        covered += result.low <= truth <= result.high
        values.append(result.value - truth)
        halves.append((result.high - result.low) / 2)

    assert 360 <= covered <= 395
    spread = 1.96 * np.std(values)
    assert 0.85 * spread < np.mean(halves) < 1.15 * spread


def test_snips_stays_within_the_rewards_and_equals_the_on_policy_mean_when_policies_agree():
    rng = np.random.default_rng(2)
    reward = (rng.random(1_000) < 0.3).astype(float)
    propensity = rng.uniform(0.1, 1.0, 1_000)

    same = snips_value(reward=reward, logged_propensity=propensity, target_probability=propensity)
    ips_same = ips_value(reward=reward, logged_propensity=propensity, target_probability=propensity)
    heavy = snips_value(
        reward=reward, logged_propensity=propensity, target_probability=rng.random(1_000)
    )

    assert same.value == pytest.approx(reward.mean())
    assert ips_same.value == pytest.approx(reward.mean())
    assert same.effective_sample_size == pytest.approx(1_000)
    assert 0.0 <= heavy.value <= 1.0


def test_clustered_errors_count_a_page_once_however_many_impressions_repeat_it():
    # given a log in which every page's impression is repeated four times
    log = uniform_log(5_000, np.random.default_rng(3))
    log.pop("true_value")
    repeated = {key: np.repeat(np.broadcast_to(value, 5_000), 4) for key, value in log.items()}
    page = np.repeat(np.arange(5_000), 4)

    for estimate in ESTIMATORS:
        # when
        single = estimate(**log)
        naive = estimate(**repeated)
        clustered = estimate(**repeated, cluster=page)

        # then repeats add no information: only the clustered interval knows it
        width = single.high - single.low
        assert clustered.value == pytest.approx(single.value)
        assert clustered.high - clustered.low == pytest.approx(width, rel=1e-3)
        assert naive.high - naive.low == pytest.approx(width / 2, rel=1e-3)


@pytest.mark.parametrize("estimate", ESTIMATORS)
@pytest.mark.parametrize(
    ("propensity", "message"),
    [
        (None, "the logs have no propensities"),
        ([0.5, None, 0.25], "1 of 3 impressions have no logged propensity"),
        ([0.5, np.nan, 0.25], "1 of 3 impressions have no logged propensity"),
        ([0.5, 0.0, 0.25], r"1 of 3 logged propensities are not in \(0, 1\]"),
        ([0.5, 1.5, 0.25], r"1 of 3 logged propensities are not in \(0, 1\]"),
        (["0.5", "x", "0.25"], "logged propensities are missing"),
    ],
)
def test_refuses_logs_without_usable_propensities(estimate, propensity, message):
    with pytest.raises(ValueError, match=message):
        estimate(
            reward=[1.0, 0.0, 1.0],
            logged_propensity=propensity,
            target_probability=[1.0, 0.0, 1.0],
        )


@pytest.mark.parametrize("estimate", ESTIMATORS)
def test_refuses_empty_or_mismatched_logs_and_bad_targets(estimate):
    with pytest.raises(ValueError, match="no logged impressions"):
        estimate(reward=[], logged_propensity=[], target_probability=[])
    with pytest.raises(ValueError, match="must have the same length"):
        estimate(reward=[1.0, 0.0], logged_propensity=[0.5], target_probability=[1.0, 0.0])
    with pytest.raises(ValueError, match=r"target probabilities must be in \[0, 1\]"):
        estimate(reward=[1.0], logged_propensity=[0.5], target_probability=[2.0])


def test_snips_refuses_a_policy_the_logs_never_saw():
    with pytest.raises(ValueError, match="never picks a variant that was logged"):
        snips_value(reward=[1.0, 0.0], logged_propensity=[0.5, 0.5], target_probability=[0, 0])


@pytest.mark.parametrize("estimate", ESTIMATORS)
def test_refuses_a_deterministic_logging_choice_the_candidate_would_not_always_make(estimate):
    # given: the second impression was logged with propensity 1 (a deterministic logger),
    # so its title's other variants had probability 0; the candidate gives them half
    log = {"reward": [1.0, 1.0, 0.0], "logged_propensity": [0.5, 1.0, 0.25]}

    # then: half of the candidate's choice there has no logged support, which IPS would
    # silently score 0 (the estimate biased down): refused, and said why
    with pytest.raises(ValueError, match="1 of 3 impressions were logged with propensity 1"):
        estimate(**log, target_probability=[1.0, 0.5, 0.0])
    # a candidate that makes the deterministic choice too is supported there
    value = estimate(**log, target_probability=[1.0, 1.0, 0.0])
    assert value.n == 3
