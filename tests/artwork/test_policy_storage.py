"""Artwork policies are artefacts: stored in the private ``artefacts`` storage, never in the
public artwork's."""

from pathlib import Path

from artwork.policy import POLICY_ROOT, bandit_new, policy_delete, policy_read, policy_write


def test_a_policy_is_written_read_and_deleted_in_the_artefacts_storage(settings, tmp_path):
    # given: the artefacts alias pointed away from MEDIA_ROOT (a private bucket in production)
    private = tmp_path / "private-artefacts"
    settings.STORAGES = {
        **settings.STORAGES,
        "artefacts": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(private)},
        },
    }
    params = bandit_new(genres=("action", "drama"), themes=("faces",))

    # when: a policy is stored
    path = policy_write(params)

    # then: it is there, not under MEDIA_ROOT, and reads back
    assert path.startswith(f"{POLICY_ROOT}/")
    assert (private / path).is_file()
    assert not (Path(settings.MEDIA_ROOT) / POLICY_ROOT).exists()
    assert policy_read(path).genres == ("action", "drama")

    # and: it is deleted from there
    policy_delete(path)
    assert not (private / path).exists()
