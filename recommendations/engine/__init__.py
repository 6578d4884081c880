"""The numeric core of Tonight: arrays and sparse matrices in, arrays and frozen dataclasses out.

Nothing here imports Django (an import-linter contract in ``pyproject.toml``
enforces it), so every estimator can be unit-tested and benchmarked alone.
"""
