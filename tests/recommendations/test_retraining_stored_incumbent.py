"""The retrain gate judges a stored incumbent by the fold-in serving makes of it."""

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.engine.als import CollaborativeModel
from recommendations.engine.metrics import evaluate, top_k
from recommendations.models import ModelVersion
from recommendations.services.retraining.incumbents import _active_version_scores, _mean_ndcg
from recommendations.serving import artefacts
from recommendations.serving.model_index import ModelIndex

pytestmark = pytest.mark.django_db

BLOCKS, USERS, ITEMS = 3, 20, 15  # three communities of 20 profiles and 15 titles each


def _world() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each community plays its own titles; region B (odd profiles) does not carry the first
    six of each block. Returns the plays, B's profiles and the titles B does not carry."""
    rng = np.random.default_rng(4)
    users = np.arange(BLOCKS * USERS) // USERS
    items = np.arange(BLOCKS * ITEMS) // ITEMS
    plays = rng.random((users.size, items.size)) < np.where(users[:, None] == items, 0.5, 0.03)
    missing = np.arange(items.size) % ITEMS < 6
    in_b = np.arange(users.size) % 2 == 1
    plays[np.ix_(in_b, missing)] = False
    return plays.astype(np.float32), np.flatnonzero(in_b), np.flatnonzero(missing)


def _ndcg(model: CollaborativeModel, split, judged, not_here, available) -> float:
    rows = split.confidence[judged]
    factors = np.array(
        [
            model.fold_in_entries(rows[i].indices, rows[i].data, available=available)
            for i in range(judged.size)
        ]
    )
    scores = factors @ model.item_factors.T
    scores[:, not_here] = -np.inf
    best = top_k(scores, 20, exclude=split.seen[judged])
    return round(float(evaluate(best, split.relevant[judged], scores.shape[1]).ndcg_at_10), 4)


def test_a_stored_masked_incumbent_is_folded_in_against_what_the_region_carries():
    # given: a global model fitted knowing what region B does not carry, stored as a version
    # that recorded no configuration (as versions did before it was recorded), and a holdout
    # of B's profiles: half of each profile's plays trains, the other half is what it should
    # be recommended
    plays, in_b, not_here = _world()
    rng = np.random.default_rng(5)
    held = (plays > 0) & (rng.random(plays.shape) < 0.5)
    train = np.where(held, 0.0, plays).astype(np.float32)
    unavailable = np.zeros_like(train)
    unavailable[np.ix_(in_b, not_here)] = 1.0
    model = CollaborativeModel(
        factors=3, regularization=0.05, iterations=30, use_cg=False, random_state=3
    ).fit(sp.csr_matrix(train), unavailable=sp.csr_matrix(unavailable))
    version = ModelVersion.objects.create(scope="global", status="active")
    version.artefact_key = artefacts.artefact_key(version.pk)
    version.save(update_fields=["artefact_key"])
    artefacts.artefact_write(version.artefact_key, artefacts.ALS, model.save)
    title_ids = np.arange(1, plays.shape[1] + 1, dtype=np.int64) * 10
    index = ModelIndex(
        title_ids=title_ids,
        region_codes=(),
        cluster_ids=np.empty(0, np.int64),
        trending=np.zeros((0, title_ids.size), np.float32),
        trained_at=0.0,
    )
    artefacts.artefact_write(version.artefact_key, artefacts.INDEX, index.save)
    split = SimpleNamespace(
        confidence=sp.csr_matrix(train),
        seen=sp.csr_matrix(train > 0),
        relevant=sp.csr_matrix(held),
    )

    # when
    measured = _mean_ndcg(
        _active_version_scores(
            version=version, split=split, judged=in_b, title_ids=title_ids, not_here=not_here
        )
    )

    # then: the figure is that of B's profiles folded in as serving folds them in, which is
    # not the figure of the unmasked fold-in
    carried = np.ones(title_ids.size, dtype=bool)
    carried[not_here] = False
    assert measured == _ndcg(model, split, in_b, not_here, carried)
    assert measured != _ndcg(model, split, in_b, not_here, None)
