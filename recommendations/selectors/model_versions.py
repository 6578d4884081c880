"""Reads of the stored model versions that the commands act on."""

from recommendations.models import ModelVersion


def model_version_get(*, pk: int) -> ModelVersion | None:
    return ModelVersion.objects.filter(pk=pk).first()
