"""Serving recommendations from the active model version, in process memory.

``recommend_for_profile`` (in :mod:`recommendations.serving.recommend`) is the
entry point; :mod:`~recommendations.serving.cache` holds the loaded versions,
:mod:`~recommendations.serving.scoring` the numeric request path, and
:mod:`~recommendations.serving.artefacts` the storage layout both training and
serving use. This module imports nothing itself, so that the training service
can use the artefact helpers without loading the serving path.
"""
