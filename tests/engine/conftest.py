"""Engine tests are pure numpy: no database, no media folder, shared synthetic data.

The root ``conftest.py`` makes every test set up the PostgreSQL test database
(its session guard) and a throw-away media folder. Neither means anything for
the numeric core, so both autouse fixtures are overridden here by name, and
the engine suite runs on a machine without a database.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.engine.als import CollaborativeModel

N_BLOCKS = 3
USERS_PER_BLOCK = 20
ITEMS_PER_BLOCK = 15


@pytest.fixture(scope="session", autouse=True)
def _suite_runs_on_postgresql() -> None:
    """No database is touched below this folder, so there is no vendor to check."""


@pytest.fixture(autouse=True)
def _media_in_tmp() -> None:
    """No uploads below this folder."""


def block_of_item(item: int | np.ndarray) -> int | np.ndarray:
    return item // ITEMS_PER_BLOCK


def block_of_user(user: int | np.ndarray) -> int | np.ndarray:
    return user // USERS_PER_BLOCK


@pytest.fixture(scope="session")
def communities() -> sp.csr_matrix:
    """A confidence matrix whose right answers are known: three viewing communities.

    60 users x 45 titles; each user engaged with a random 60% of its own
    block's 15 titles (confidence 1-5) and nothing else. A sound model
    recommends every user the unseen titles of its own block first.
    """
    rng = np.random.default_rng(7)
    n_users, n_items = N_BLOCKS * USERS_PER_BLOCK, N_BLOCKS * ITEMS_PER_BLOCK
    dense = np.zeros((n_users, n_items), dtype=np.float32)
    for user in range(n_users):
        block = block_of_user(user)
        items = block * ITEMS_PER_BLOCK + np.flatnonzero(rng.random(ITEMS_PER_BLOCK) < 0.6)
        dense[user, items] = rng.integers(1, 6, size=items.size)
    return sp.csr_matrix(dense)


@pytest.fixture(scope="session")
def fitted_model(communities) -> CollaborativeModel:
    return CollaborativeModel(factors=3, regularization=0.05, iterations=15, random_state=42).fit(
        communities
    )
