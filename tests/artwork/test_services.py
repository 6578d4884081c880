import datetime as dt
import os

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from artwork.services import ORPHAN_GRACE
from recommendations import tasks
from tests.factories import ArtworkVariantFactory

pytestmark = pytest.mark.django_db


def _age(name: str, by: dt.timedelta) -> None:
    """Make a stored file look written ``by`` ago (FileSystemStorage: its mtime)."""
    moment = (timezone.now() - by).timestamp()
    os.utime(default_storage.path(name), (moment, moment))


def test_the_nightly_prune_deletes_the_files_of_deleted_variants_after_a_grace():
    # given a kept variant, a variant deleted over a day ago, one deleted just now, and
    # files outside the artwork folder (a model's artefact)
    kept = ArtworkVariantFactory()
    gone = ArtworkVariantFactory()
    just_gone = ArtworkVariantFactory()
    old_file, young_file = gone.image.name, just_gone.image.name
    gone.delete()
    just_gone.delete()
    model = default_storage.save("models/1/index.npz", ContentFile(b"PK"))
    for name in (kept.image.name, old_file, model):
        _age(name, ORPHAN_GRACE + dt.timedelta(hours=1))

    # when the nightly prune runs
    result = tasks.prune_logs()

    # then the deleted variant's file is gone from storage (it was still served at its URL,
    # forever, and its disk space never came back); a file younger than the grace stays
    # (pages served before the deletion and uploads not yet committed name it); the rest
    # is untouched
    assert result["artwork_files"] == 1
    assert not default_storage.exists(old_file)
    assert default_storage.exists(young_file)
    assert default_storage.exists(kept.image.name)
    assert default_storage.exists(model)
