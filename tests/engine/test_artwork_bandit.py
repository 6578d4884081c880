"""Artwork bandit: exact propensities under a floor, exact Bayesian updates, learning, persistence.

The planted world: profiles are action fans or romance fans (taste), on a TV
or a phone. Variants carry themes ``action``, ``romance``, ``face``
(close-up) and ``wide`` (scene). Fans take the frame of their genre, phones
take faces and TVs wide scenes; a title's variants never say which.
"""

import itertools

import numpy as np
import pytest

from recommendations.engine.artwork_bandit import (
    N_HOUR_BUCKETS,
    NORMAL_TABLE_SIZE,
    ArtworkBandit,
    ArtworkChoice,
    PerTitleThompson,
    _argmax_wins,
    artwork_context,
    context_size,
    normal_draws,
)
from recommendations.engine.ranking import DEVICE_CLASSES

ACTION, ROMANCE, FACE, WIDE = range(4)
N_THEMES = 4
TV, MOBILE = DEVICE_CLASSES.index("tv"), DEVICE_CLASSES.index("mobile")
ACTION_FAN, ROMANCE_FAN = np.array([1.0, 0.1]), np.array([0.1, 1.0])
N_CONTEXT = context_size(2)


def take_rate(taste: np.ndarray, device: np.ndarray, themes: np.ndarray) -> np.ndarray:
    """The hidden P(play | shown) of the planted world, shape (n,)."""
    fan_of_action = taste[:, 0] > taste[:, 1]
    genre_match = np.where(fan_of_action, themes[:, ACTION], themes[:, ROMANCE])
    screen_match = np.where(device == MOBILE, themes[:, FACE], themes[:, WIDE])
    return 0.04 + 0.16 * genre_match + 0.08 * screen_match


def random_profiles(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    taste = np.where((rng.random(n) < 0.5)[:, None], ACTION_FAN, ROMANCE_FAN)
    device = np.where(rng.random(n) < 0.5, TV, MOBILE)
    return taste, device


def variant_themes(n: int, rng: np.random.Generator) -> np.ndarray:
    """One genre frame (action or romance) and one framing (face or wide) per variant."""
    themes = np.zeros((n, N_THEMES), dtype=np.float32)
    themes[np.arange(n), rng.integers(0, 2, n)] = 1.0
    themes[np.arange(n), 2 + rng.integers(0, 2, n)] = 1.0
    return themes


def uniform_log(n: int, n_variants: int, seed: int) -> dict[str, np.ndarray]:
    """Impressions of variants picked uniformly, with rewards from the planted world."""
    rng = np.random.default_rng(seed)
    themes_of = variant_themes(n_variants, rng)
    taste, device = random_profiles(n, rng)
    variant = rng.integers(0, n_variants, n)
    context = artwork_context(taste=taste, device=device, hour_bucket=rng.integers(0, 6, n))
    reward = rng.random(n) < take_rate(taste, device, themes_of[variant])
    return {
        "context": context,
        "themes": themes_of[variant],
        "variant": variant.astype(np.int64),
        "reward": reward.astype(np.float64),
        "taste": taste,
        "device": device,
    }


def fitted(seed: int = 0, n: int = 20_000, **settings) -> ArtworkBandit:
    log = uniform_log(n, n_variants=200, seed=seed)
    bandit = ArtworkBandit(n_context=N_CONTEXT, n_themes=N_THEMES, random_state=seed, **settings)
    return bandit.partial_fit(
        context=log["context"], themes=log["themes"], variant=log["variant"], reward=log["reward"]
    )


def page(n_groups: int, seed: int, *, sizes=(1, 2, 3, 4, 6)) -> dict[str, np.ndarray]:
    """One profile's page: titles with varying numbers of new variants (ids from 10_000)."""
    rng = np.random.default_rng(seed)
    counts = rng.choice(sizes, n_groups)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
    n_arms = int(indptr[-1])
    context = np.repeat(
        artwork_context(taste=ACTION_FAN[None], device=[TV], hour_bucket=[5]), n_groups, axis=0
    )
    return {
        "context": context,
        "indptr": indptr,
        "arm_themes": variant_themes(n_arms, rng),
        "arm_variant": 10_000 + np.arange(n_arms, dtype=np.int64),
    }


def test_context_is_normalised_taste_device_hour_and_constant():
    context = artwork_context(
        taste=np.array([[3.0, 4.0], [0.0, 0.0]]), device=[MOBILE, TV], hour_bucket=[0, 5]
    )

    assert context.shape == (2, context_size(2)) == (2, 2 + len(DEVICE_CLASSES) + 6 + 1)
    assert context.dtype == np.float32
    np.testing.assert_allclose(context[0, :2], [0.6, 0.8])
    np.testing.assert_array_equal(context[1, :2], [0.0, 0.0])
    devices = context[:, 2 : 2 + len(DEVICE_CLASSES)]
    np.testing.assert_array_equal(devices.argmax(axis=1), [MOBILE, TV])
    np.testing.assert_array_equal(devices.sum(axis=1), [1, 1])
    hours = context[:, 2 + len(DEVICE_CLASSES) : -1]
    assert hours.shape[1] == N_HOUR_BUCKETS
    np.testing.assert_array_equal(hours.argmax(axis=1), [0, 5])
    np.testing.assert_array_equal(context[:, -1], [1, 1])


@pytest.mark.parametrize(
    ("device", "hour"), [([len(DEVICE_CLASSES)], [0]), ([0], [N_HOUR_BUCKETS]), ([-1], [0])]
)
def test_context_refuses_codes_out_of_range(device, hour):
    with pytest.raises(ValueError, match="must"):
        artwork_context(taste=np.ones((1, 2)), device=device, hour_bucket=hour)


@pytest.mark.parametrize("trained", [False, True])
def test_probabilities_sum_to_one_per_title_and_keep_the_floor(trained):
    # given
    bandit = (
        fitted(floor=0.2)
        if trained
        else ArtworkBandit(n_context=N_CONTEXT, n_themes=N_THEMES, floor=0.2, random_state=0)
    )
    arms = page(60, seed=1)

    # when
    choice = bandit.choose(**arms, rng=np.random.default_rng(3))

    # then
    indptr = arms["indptr"]
    sizes = np.diff(indptr)
    per_arm_size = np.repeat(sizes, sizes)
    assert isinstance(choice, ArtworkChoice)
    np.testing.assert_allclose(np.add.reduceat(choice.probability, indptr[:-1]), 1.0)
    assert np.all(choice.probability >= 0.2 / per_arm_size - 1e-12)
    assert np.all((choice.arm >= indptr[:-1]) & (choice.arm < indptr[1:]))
    np.testing.assert_array_equal(choice.propensity, choice.probability[choice.arm])
    assert choice.arm.dtype == np.intp
    assert choice.estimate.shape == choice.probability.shape == (int(indptr[-1]),)
    single = sizes == 1
    np.testing.assert_array_equal(choice.propensity[single], 1.0)


def test_a_learned_policy_still_explores_at_the_floor_and_no_more():
    # Variants' own terms pinned at 0: the themes alone decide, and the posterior is sure.
    bandit = fitted(n=60_000, floor=0.1, variant_prior_precision=1e6)
    # Four variants of one title for an action fan on a TV: one is action + wide.
    themes = np.zeros((4, N_THEMES), dtype=np.float32)
    themes[:, [ROMANCE, FACE]] = 1.0
    themes[0] = [1.0, 0.0, 0.0, 1.0]
    context = artwork_context(taste=ACTION_FAN[None], device=[TV], hour_bucket=[5])

    choice = bandit.choose(
        context=context,
        indptr=np.array([0, 4]),
        arm_themes=themes,
        arm_variant=np.arange(50_000, 50_004),
        rng=np.random.default_rng(0),
    )

    # The posterior is sure: the winner takes all it may, the others keep floor / k.
    assert choice.probability[0] == pytest.approx(0.9 + 0.1 / 4)
    np.testing.assert_allclose(choice.probability[1:], 0.1 / 4)


def martingale_z(chosen: np.ndarray, probability: np.ndarray) -> float:
    """z-score of Σ (chosen - p): a sum of martingale differences with variance Σ p (1 - p)."""
    return float((chosen - probability).sum() / np.sqrt((probability * (1 - probability)).sum()))


def test_logged_propensity_is_the_frequency_with_which_arms_are_chosen():
    """Arms are chosen exactly as often as the probabilities logged for them say.

    Each call's choice, given its logged probabilities, is an independent
    draw per title, so Σ (chosen - p) over calls is a martingale: under exact
    propensities each z-score below is standard normal and exceeds 5 with
    probability below 1e-6. Pooling arm-decisions by logged probability gives
    the power: logging the floor as 0.15 while running 0.1 gives |z| > 10 in
    the lowest and the highest bins, and logging the draws' win shares without the floor
    puts every arm that never wins at p = 0 while it is chosen.
    """
    # given a trained bandit on a page of unknown variants: some arms sure, some not
    bandit = fitted(n=20_000)
    arms = page(30, seed=2, sizes=(2, 3, 4))
    rng = np.random.default_rng(11)
    calls = 3_000

    # when
    choices = [bandit.choose(**arms, rng=rng) for _ in range(calls)]

    # then, per arm ...
    probability = np.stack([choice.probability for choice in choices])
    chosen = np.zeros_like(probability)
    for row, choice in enumerate(choices):
        chosen[row, choice.arm] = 1.0
        np.testing.assert_array_equal(choice.propensity, choice.probability[choice.arm])
    for arm in range(probability.shape[1]):
        assert abs(martingale_z(chosen[:, arm], probability[:, arm])) < 5.0
    # ... and pooled by logged probability, from the floor to near-certainty
    edges = [0.0, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0]
    populated = 0
    for low, high in itertools.pairwise(edges):
        inside = (probability >= low) & (probability < high)
        if inside.sum() >= 1_000:
            populated += 1
            assert abs(martingale_z(chosen[inside], probability[inside])) < 5.0, (low, high)
    assert populated >= 5


def test_an_untrained_policy_also_chooses_with_the_logged_probabilities():
    bandit = ArtworkBandit(n_context=N_CONTEXT, n_themes=N_THEMES, floor=0.3, random_state=0)
    arms = page(4, seed=3, sizes=(3,))
    rng = np.random.default_rng(0)

    choices = [bandit.choose(**arms, rng=rng) for _ in range(2_000)]

    # Prior draws decide the rest; every arm keeps at least floor / k.
    for choice in choices[:10]:
        assert np.all(choice.probability >= 0.1 - 1e-12)
    counts = np.bincount(
        np.concatenate([c.arm for c in choices]), minlength=int(arms["indptr"][-1])
    )
    expected = np.sum([c.probability for c in choices], axis=0)
    assert np.max(np.abs(counts - expected) / np.sqrt(expected)) < 5.0


def expected_take_rate(choice: ArtworkChoice, truth: np.ndarray, indptr: np.ndarray) -> float:
    """Mean over titles of Σ_arm P(arm) x P(play | arm)."""
    return float(np.add.reduceat(choice.probability * truth, indptr[:-1]).mean())


@pytest.mark.parametrize(
    ("taste", "device", "best"),
    [
        (ACTION_FAN, TV, (ACTION, WIDE)),
        (ACTION_FAN, MOBILE, (ACTION, FACE)),
        (ROMANCE_FAN, TV, (ROMANCE, WIDE)),
        (ROMANCE_FAN, MOBILE, (ROMANCE, FACE)),
    ],
)
def test_learns_the_planted_preference_and_transfers_it_to_new_titles(taste, device, best):
    # given a policy trained on 200 variants, and 50 new titles with one variant per theme pair
    bandit = fitted(n=30_000)
    pairs = np.array([[ACTION, FACE], [ACTION, WIDE], [ROMANCE, FACE], [ROMANCE, WIDE]])
    themes = np.zeros((200, N_THEMES), dtype=np.float32)
    themes[np.arange(200)[:, None], np.tile(pairs, (50, 1))] = 1.0
    indptr = np.arange(0, 201, 4)
    context = np.repeat(
        artwork_context(taste=taste[None], device=[device], hour_bucket=[5]), 50, axis=0
    )

    # when
    choice = bandit.choose(
        context=context,
        indptr=indptr,
        arm_themes=themes,
        arm_variant=np.arange(90_000, 90_200),
        rng=np.random.default_rng(1),
    )

    # then the right frame wins for this profile and device, on titles never seen
    best_slot = next(slot for slot, pair in enumerate(pairs) if set(pair) == set(best))
    probability = choice.probability.reshape(50, 4)
    assert np.all(probability.argmax(axis=1) == best_slot)
    assert probability[:, best_slot].mean() > 0.5
    # and it captures most of what an oracle gains over uniform, though the
    # new variants' own terms are still unknown and the floor explores
    truth = take_rate(np.repeat(taste[None], 200, axis=0), np.full(200, device), themes)
    uniform = float(truth.mean())
    oracle = float(truth.reshape(50, 4).max(axis=1).mean())
    gained = expected_take_rate(choice, truth, indptr)
    assert (gained - uniform) / (oracle - uniform) > 0.6


def test_two_profiles_with_opposite_tastes_see_different_artwork_for_the_same_title():
    bandit = fitted(n=30_000)
    themes = np.array([[1, 0, 0, 1], [0, 1, 0, 1]], dtype=np.float32)  # action vs romance
    context = artwork_context(
        taste=np.stack([ACTION_FAN, ROMANCE_FAN]), device=[TV, TV], hour_bucket=[5, 5]
    )

    choice = bandit.choose(
        context=context,
        indptr=np.array([0, 2, 4]),
        arm_themes=np.vstack([themes, themes]),
        arm_variant=np.array([7, 8, 7, 8]),
        rng=np.random.default_rng(0),
    )

    assert choice.probability[0] > 0.8  # the action fan: action frame
    assert choice.probability[3] > 0.8  # the romance fan: romantic frame


def test_online_learning_beats_uniform_from_its_own_logs():
    """The closed loop: choose, observe, update in mini-batches, as the Celery task will."""
    rng = np.random.default_rng(5)
    n_variants = 400
    themes_of = variant_themes(n_variants, rng)
    bandit = ArtworkBandit(n_context=N_CONTEXT, n_themes=N_THEMES, random_state=5)
    gained, uniform, oracle = [], [], []
    for _batch in range(40):
        taste, device = random_profiles(100, rng)
        context = artwork_context(taste=taste, device=device, hour_bucket=rng.integers(0, 6, 100))
        variants = rng.choice(n_variants, (100, 3))  # 100 titles shown, 3 variants each
        indptr = np.arange(0, 301, 3)
        choice = bandit.choose(
            context=context,
            indptr=indptr,
            arm_themes=themes_of[variants.ravel()],
            arm_variant=variants.ravel(),
            rng=rng,
        )
        truth = take_rate(
            np.repeat(taste, 3, axis=0), np.repeat(device, 3), themes_of[variants.ravel()]
        )
        shown = variants.ravel()[choice.arm]
        reward = rng.random(100) < truth[choice.arm]
        gained.append(expected_take_rate(choice, truth, indptr))
        uniform.append(float(truth.mean()))
        oracle.append(float(truth.reshape(100, 3).max(axis=1).mean()))
        bandit.partial_fit(
            context=context, themes=themes_of[shown], variant=shown, reward=reward.astype(float)
        )

    assert bandit.n_updates == 4_000
    share = (np.mean(gained[20:]) - np.mean(uniform[20:])) / (
        np.mean(oracle[20:]) - np.mean(uniform[20:])
    )
    assert share > 0.6


def test_a_variant_learns_its_own_term_and_an_unknown_variant_starts_at_the_prior():
    # given impressions where variant 3 is better than its themes say
    log = uniform_log(30_000, n_variants=50, seed=4)
    boosted = log["variant"] == 3
    log["reward"][boosted] = np.random.default_rng(0).random(boosted.sum()) < 0.6
    bandit = ArtworkBandit(n_context=N_CONTEXT, n_themes=N_THEMES, random_state=0)
    bandit.partial_fit(
        context=log["context"], themes=log["themes"], variant=log["variant"], reward=log["reward"]
    )
    themes = np.repeat(log["themes"][boosted][:1], 2, axis=0)
    context = artwork_context(taste=ACTION_FAN[None], device=[TV], hour_bucket=[5])

    # when variant 3 and a never-seen variant with the same themes compete
    choice = bandit.choose(
        context=context,
        indptr=np.array([0, 2]),
        arm_themes=themes,
        arm_variant=np.array([3, 777]),
        rng=np.random.default_rng(0),
    )

    # then the unknown variant's estimate is exactly what its themes predict (prior term 0) ...
    features = np.outer(np.append(themes[1], 1.0), context[0]).ravel()
    shared = bandit.shared_weights.T.ravel()
    assert choice.estimate[1] == pytest.approx(float(features @ shared), abs=1e-5)
    assert bandit.variant_impressions([3, 777]).tolist() == [int(boosted.sum()), 0]
    # ... and variant 3's own term carries its extra take rate
    assert choice.estimate[0] - choice.estimate[1] > 0.25
    assert choice.probability[0] > 0.8


def test_the_update_is_the_exact_joint_posterior_of_shared_weights_and_variant_terms():
    """Against the textbook ridge solution with one explicit column per variant."""
    log = uniform_log(600, n_variants=12, seed=9)
    bandit = ArtworkBandit(
        n_context=N_CONTEXT,
        n_themes=N_THEMES,
        prior_precision=2.0,
        variant_prior_precision=5.0,
        random_state=0,
    )
    weight = np.random.default_rng(1).uniform(0.5, 2.0, 600)
    bandit.partial_fit(
        context=log["context"],
        themes=log["themes"],
        variant=log["variant"],
        reward=log["reward"],
        weight=weight,
    )

    augmented = np.hstack([log["themes"], np.ones((600, 1))])
    shared = (augmented[:, :, None] * log["context"][:, None, :]).reshape(600, -1)
    one_hot = np.eye(12)[log["variant"]]
    design = np.hstack([shared, one_hot])
    prior = np.concatenate([np.full(shared.shape[1], 2.0), np.full(12, 5.0)])
    precision = design.T @ (design * weight[:, None]) + np.diag(prior)
    solution = np.linalg.solve(precision, design.T @ (weight * log["reward"]))

    np.testing.assert_allclose(bandit.shared_weights.T.ravel(), solution[:-12], atol=1e-8)
    choice = bandit.choose(
        context=log["context"][:5],
        indptr=np.arange(6),
        arm_themes=log["themes"][:5],
        arm_variant=log["variant"][:5],
        rng=np.random.default_rng(0),
    )
    np.testing.assert_allclose(choice.estimate, design[:5] @ solution, atol=1e-5)


def test_batches_give_the_same_posterior_as_one_refit():
    log = uniform_log(5_000, n_variants=80, seed=6)
    keys = ("context", "themes", "variant", "reward")
    whole = ArtworkBandit(n_context=N_CONTEXT, n_themes=N_THEMES, random_state=0)
    whole.partial_fit(**{key: log[key] for key in keys})
    batched = ArtworkBandit(n_context=N_CONTEXT, n_themes=N_THEMES, random_state=0)
    for rows in np.array_split(np.arange(5_000), 7):
        batched.partial_fit(**{key: log[key][rows] for key in keys})
    arms = page(20, seed=7)
    arms["arm_variant"] = np.random.default_rng(0).integers(0, 100, arms["arm_variant"].shape)

    assert batched.n_updates == whole.n_updates == 5_000
    np.testing.assert_allclose(batched.shared_weights, whole.shared_weights, atol=1e-9)
    one = whole.choose(**arms, rng=np.random.default_rng(2))
    other = batched.choose(**arms, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(one.arm, other.arm)
    np.testing.assert_allclose(one.probability, other.probability)


def test_save_and_load_give_identical_choices_for_the_same_rng():
    bandit = fitted(n=4_000)
    arms = page(40, seed=8)
    arms["arm_variant"] = np.random.default_rng(1).integers(0, 250, arms["arm_variant"].shape)

    loaded = ArtworkBandit.load(bandit.save())

    assert loaded.n_updates == bandit.n_updates == 4_000
    assert (loaded.floor, loaded.n_draws, loaded.random_state) == (0.1, 16, 0)
    before = bandit.choose(**arms, rng=np.random.default_rng(9))
    after = loaded.choose(**arms, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(before.arm, after.arm)
    np.testing.assert_array_equal(before.probability, after.probability)
    np.testing.assert_array_equal(before.estimate, after.estimate)
    # and it keeps learning where it left off
    log = uniform_log(500, n_variants=200, seed=0)  # the same variants and themes
    keys = ("context", "themes", "variant", "reward")
    bandit.partial_fit(**{key: log[key] for key in keys})
    loaded.partial_fit(**{key: log[key] for key in keys})
    np.testing.assert_allclose(loaded.shared_weights, bandit.shared_weights)


def test_load_refuses_another_artefact():
    with pytest.raises(ValueError, match=r"expected a 'tonight\.artwork_bandit' artefact"):
        ArtworkBandit.load(PerTitleThompson(random_state=0).save())


def test_the_same_seed_gives_the_same_choices():
    arms = page(30, seed=9)
    one = fitted(n=2_000, seed=3).choose(**arms)
    other = fitted(n=2_000, seed=3).choose(**arms)
    third = fitted(n=2_000, seed=3).choose(**arms, rng=np.random.default_rng(99))

    np.testing.assert_array_equal(one.arm, other.arm)
    np.testing.assert_array_equal(one.probability, other.probability)
    assert not np.array_equal(one.probability, third.probability)


def test_a_variant_whose_themes_changed_asks_for_a_refit():
    bandit = ArtworkBandit(n_context=N_CONTEXT, n_themes=N_THEMES)
    context = artwork_context(taste=ACTION_FAN[None], device=[TV], hour_bucket=[0])
    bandit.partial_fit(context=context, themes=[[1, 0, 0, 1]], variant=[5], reward=[1.0])

    with pytest.raises(ValueError, match=r"variants \[5\] arrive with other themes"):
        bandit.partial_fit(context=context, themes=[[0, 1, 0, 1]], variant=[5], reward=[0.0])
    assert bandit.n_updates == 1


def test_learned_themes_are_those_a_variant_was_folded_with_and_zero_for_an_unknown_one():
    bandit = ArtworkBandit(n_context=N_CONTEXT, n_themes=N_THEMES)
    context = artwork_context(taste=ACTION_FAN[None], device=[TV], hour_bucket=[0])
    bandit.partial_fit(context=context, themes=[[1, 0, 0, 1]], variant=[5], reward=[1.0])

    themes, known = bandit.learned_themes([7, 5])

    assert known.tolist() == [False, True]
    assert themes.tolist() == [[0, 0, 0, 0], [1, 0, 0, 1]]
    # so a caller that has lost a variant's themes can still fold it as it was learned
    bandit.partial_fit(context=context, themes=themes[1:], variant=[5], reward=[0.0])
    assert bandit.n_updates == 2


@pytest.mark.parametrize(
    ("indptr", "message"),
    [([0, 2, 2, 3], "at least one arm"), ([0, 2], "end at n_arms"), ([1, 3], "start at 0")],
)
def test_choose_refuses_titles_without_arms_and_bad_bounds(indptr, message):
    bandit = ArtworkBandit(n_context=N_CONTEXT, n_themes=N_THEMES)
    n_groups = len(indptr) - 1

    with pytest.raises(ValueError, match=message):
        bandit.choose(
            context=np.ones((n_groups, N_CONTEXT)),
            indptr=indptr,
            arm_themes=np.ones((3, N_THEMES)),
            arm_variant=np.arange(3),
        )


def test_partial_fit_refuses_negative_weights_and_bad_shapes():
    bandit = ArtworkBandit(n_context=N_CONTEXT, n_themes=N_THEMES)
    context = np.ones((2, N_CONTEXT))

    with pytest.raises(ValueError, match="non-negative"):
        bandit.partial_fit(
            context=context, themes=np.ones((2, 4)), variant=[1, 2], reward=[0, 1], weight=[1, -1]
        )
    with pytest.raises(ValueError, match="themes must have shape"):
        bandit.partial_fit(context=context, themes=np.ones((2, 3)), variant=[1, 2], reward=[0, 1])


def test_per_title_thompson_finds_each_titles_global_winner_with_the_same_guarantees():
    # given two titles; variant 1 wins title A for everyone, variant 12 wins title B
    rng = np.random.default_rng(0)
    truth = {0: 0.05, 1: 0.20, 2: 0.05, 10: 0.10, 11: 0.02, 12: 0.25}
    variants = rng.choice(list(truth), 20_000)
    rewards = rng.random(20_000) < np.vectorize(truth.get)(variants)
    sampler = PerTitleThompson(floor=0.1, random_state=0).partial_fit(
        variant=variants, reward=rewards
    )
    indptr = np.array([0, 3, 7])
    arm_variant = np.array([0, 1, 2, 10, 11, 12, 99])  # 99: a new variant of title B

    # when
    choice = sampler.choose(indptr=indptr, arm_variant=arm_variant, rng=np.random.default_rng(1))

    # then
    np.testing.assert_allclose(np.add.reduceat(choice.probability, indptr[:-1]), 1.0)
    assert np.all(choice.probability >= np.repeat(0.1 / np.diff(indptr), np.diff(indptr)) - 1e-12)
    assert choice.probability[1] > 0.8
    assert choice.probability[5] > max(choice.probability[3], choice.probability[4])
    # Beta(1, 1): a new variant starts at the prior's mean, far above the others, and is explored
    assert choice.estimate[6] == pytest.approx(0.5)
    assert choice.probability[6] > 0.5
    np.testing.assert_array_equal(choice.propensity, choice.probability[choice.arm])
    loaded = PerTitleThompson.load(sampler.save())
    again = loaded.choose(indptr=indptr, arm_variant=arm_variant, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(again.arm, choice.arm)
    np.testing.assert_array_equal(again.probability, choice.probability)
    assert loaded.n_updates == 20_000


def test_per_title_thompson_refuses_rewards_outside_zero_one():
    with pytest.raises(ValueError, match=r"rewards must be in \[0, 1\]"):
        PerTitleThompson().partial_fit(variant=[1], reward=[2.0])


def test_per_title_thompson_without_data_chooses_from_the_prior():
    sampler = PerTitleThompson(floor=0.1, random_state=0)
    indptr = np.array([0, 2, 5])

    choice = sampler.choose(indptr=indptr, arm_variant=np.arange(5))

    np.testing.assert_allclose(np.add.reduceat(choice.probability, indptr[:-1]), 1.0)
    np.testing.assert_allclose(choice.estimate, 0.5)
    assert np.all(choice.probability >= 0.1 / 3)


def test_without_any_themes_variants_still_learn_their_own_terms():
    # given a catalogue nobody has tagged: two variants of one title, the second taken far more
    rng = np.random.default_rng(3)
    n = 4_000
    variant = rng.integers(0, 2, n).astype(np.int64)
    reward = rng.random(n) < np.where(variant == 1, 0.4, 0.05)
    context = artwork_context(
        taste=np.tile(ACTION_FAN, (n, 1)), device=np.full(n, TV), hour_bucket=np.full(n, 5)
    )
    bandit = ArtworkBandit(n_context=N_CONTEXT, n_themes=0, random_state=0)

    # when
    bandit.partial_fit(
        context=context, themes=np.zeros((n, 0)), variant=variant, reward=reward.astype(float)
    )
    choice = bandit.choose(
        context=context[:1],
        indptr=np.array([0, 2]),
        arm_themes=np.zeros((2, 0), dtype=np.float32),
        arm_variant=np.array([0, 1]),
        rng=np.random.default_rng(0),
    )

    # then the better frame is preferred, with the floor kept for the other
    assert choice.probability.sum() == pytest.approx(1.0)
    assert choice.probability[1] > 0.9
    assert choice.probability[0] >= bandit.floor / 2 - 1e-12


def _running_argmax_wins(scores: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The definition: per draw and group, the first arm with the highest score wins."""
    wins = np.zeros(scores.shape[1], dtype=np.int64)
    for draw in scores:
        for start, size in zip(starts.tolist(), sizes.tolist(), strict=True):
            wins[start + int(np.argmax(draw[start : start + size]))] += 1
    return wins


@pytest.mark.parametrize("rounded", [False, True], ids=["continuous", "with ties"])
def test_draw_wins_are_the_first_best_arm_of_each_group(rounded):
    """The vectorised count of draws each arm wins, against a plain loop; rounded scores
    make ties, where the first tied arm must win (the logged propensities depend on it)."""
    rng = np.random.default_rng(11)
    for _ in range(50):
        sizes = rng.integers(1, 9, rng.integers(1, 60))
        starts = np.r_[0, np.cumsum(sizes)[:-1]]
        scores = rng.standard_normal((int(rng.integers(1, 40)), int(sizes.sum())))
        scores = np.round(scores).astype(np.float32) if rounded else scores.astype(np.float32)
        np.testing.assert_array_equal(
            _argmax_wins(scores, starts, sizes), _running_argmax_wins(scores, starts, sizes)
        )


def test_one_context_row_stands_for_every_title_of_a_page():
    """The request path passes one profile's context once; it must choose as if repeated."""
    bandit = fitted(n=2_000, seed=4)
    arms = page(25, seed=6)
    shared = dict(arms, context=arms["context"][:1])

    repeated = bandit.choose(**arms, rng=np.random.default_rng(5))
    once = bandit.choose(**shared, rng=np.random.default_rng(5))

    np.testing.assert_array_equal(once.arm, repeated.arm)
    np.testing.assert_array_equal(once.probability, repeated.probability)
    np.testing.assert_array_equal(once.estimate, repeated.estimate)
    with pytest.raises(ValueError, match="context must have shape"):
        bandit.choose(**dict(arms, context=arms["context"][:2]))


def test_posterior_draws_are_standard_normal_reproducible_and_never_written_to():
    draws = normal_draws(np.random.default_rng(4), 20_000)
    again = normal_draws(np.random.default_rng(4), 20_000)
    other = normal_draws(np.random.default_rng(5), 20_000)

    np.testing.assert_array_equal(draws, again)  # a page's seed fixes its draws
    assert not np.array_equal(draws, other)
    assert abs(draws.mean()) < 0.03
    assert abs(draws.std() - 1.0) < 0.03
    assert not draws.flags.writeable  # the table is shared by every choice of the process
    # More than a quarter of the table is drawn afresh rather than sliced.
    large = normal_draws(np.random.default_rng(4), NORMAL_TABLE_SIZE // 2)
    assert large.shape == (NORMAL_TABLE_SIZE // 2,)
    assert large.flags.writeable
