"""Saving and loading engine artefacts as ``.npz`` archives, never with pickle.

Every estimator stores plain numeric and string arrays plus two markers: the
artefact ``kind`` (so a ranker file is never loaded as an ALS model) and a
format ``version`` (so an old artefact fails loudly instead of being misread).
Loading always uses ``allow_pickle=False``: an artefact from shared object
storage can then never execute code in a web or worker process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any, TypeAlias

import numpy as np
import scipy.sparse as sp

#: A filesystem path (written exactly there, no suffix added) or a binary file object.
ArtefactTarget: TypeAlias = str | os.PathLike[str] | IO[bytes]

_KIND_KEY = "__kind__"
_VERSION_KEY = "__version__"


def save_artefact(
    target: ArtefactTarget, *, kind: str, version: int, compressed: bool = True, **arrays: Any
) -> None:
    """Write ``arrays`` to ``target`` as a ``.npz`` archive, compressed unless told otherwise.

    Parameters
    ----------
    target : path or binary file object
        Where to write. A path is written exactly as given: ``numpy.savez``
        would otherwise append ``.npz`` to a path without it, which surprises a
        caller that later opens the same path.
    kind : str
        Artefact kind, checked by :func:`load_artefact`.
    version : int
        Format version of this kind, checked by :func:`load_artefact`.
    compressed : bool
        ``False`` for arrays that do not compress (dense float factors): zlib
        spends a fifth of a second on a model's factors to save a few percent.
        :func:`load_artefact` reads either.
    **arrays
        Values convertible to non-object numpy arrays (numbers, strings,
        numeric arrays). Object arrays are refused because they would need
        pickle to load.
    """
    payload: dict[str, np.ndarray] = {
        _KIND_KEY: np.array(kind),
        _VERSION_KEY: np.array(version, dtype=np.int64),
    }
    for name, value in arrays.items():
        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError(f"{name!r} is an object array and cannot be saved without pickle")
        payload[name] = array
    write = np.savez_compressed if compressed else np.savez
    if isinstance(target, str | os.PathLike):
        with Path(target).open("wb") as handle:
            write(handle, **payload)
    else:
        write(target, **payload)


def load_artefact(source: ArtefactTarget, *, kind: str, version: int) -> dict[str, np.ndarray]:
    """Read an archive written by :func:`save_artefact`, refusing anything else.

    Returns
    -------
    dict of str to numpy.ndarray
        Every stored array, fully read into memory (the file is closed).

    Raises
    ------
    ValueError
        If the archive is of another kind or another format version.
    """
    with np.load(source, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    found_kind = str(arrays.pop(_KIND_KEY, np.array("")))
    found_version = int(arrays.pop(_VERSION_KEY, np.array(-1)))
    if found_kind != kind:
        raise ValueError(f"expected a {kind!r} artefact, found {found_kind!r}")
    if found_version != version:
        raise ValueError(
            f"{kind!r} artefact has format version {found_version}, expected {version}"
        )
    return arrays


def csr_to_arrays(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    """Flatten a CSR matrix into named arrays for :func:`save_artefact`."""
    return {
        f"{prefix}_data": matrix.data,
        f"{prefix}_indices": matrix.indices,
        f"{prefix}_indptr": matrix.indptr,
        f"{prefix}_shape": np.asarray(matrix.shape, dtype=np.int64),
    }


def csr_from_arrays(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    """Rebuild a CSR matrix stored with :func:`csr_to_arrays`."""
    shape = tuple(int(n) for n in arrays[f"{prefix}_shape"])
    return sp.csr_matrix(
        (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
        shape=shape,
    )
