"""The bench plumbing keeps each bench database's files apart from every other's."""

from bench._harness import bench_database_url, bench_media_root, django_env


def test_each_bench_database_has_its_own_media_directory():
    # given: two catalogues' copies, whose model versions are both numbered from 1
    big, small = bench_database_url("tonight_bench_home"), bench_database_url("tonight_small")

    # when
    big_env, small_env = django_env(big), django_env(small)

    # then: neither serves the other's artefacts, nor the demo's var/media
    assert big_env["MEDIA_ROOT"] != small_env["MEDIA_ROOT"]
    assert big_env["MEDIA_ROOT"] == str(bench_media_root(big))
    assert bench_media_root(big).parts[-3:] == ("bench", "tonight_bench_home", "media")
