"""Frames and evidence in the media storage, on local disk and in an S3-compatible
bucket (moto's server on loopback): deleting a camera deletes its files, retention
deletes old frames, on both."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client, override_settings
from django.utils import timezone

from cameras import roles
from cameras.frames import delete_old_frames
from cameras.frames import store_frame as capture_frame
from cameras.models import Frame
from monitoring.celery import app as celery_app
from tests.cameras import jpeg_bytes, store_frame
from tests.cameras.test_camera_api import api_for
from tests.factories import HttpCameraFactory
from tests.s3_server import S3Server

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def eager_tasks():
    """Tasks queued run at once, here (pass on-commit callbacks on with
    ``django_capture_on_commit_callbacks(execute=True)``)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.update(task_always_eager=True)
    yield
    celery_app.conf.update(task_always_eager=before)


@pytest.fixture
def local_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(scope="module")
def s3_server():
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def s3_media(s3_server, request):
    bucket = s3_server.bucket(f"media-{request.node.name.lower().replace('_', '-')[:40]}")
    with override_settings(
        STORAGES={
            "default": s3_server.settings(bucket),
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ):
        yield bucket


def evidence_of(camera, name="alert-1.jpg") -> str:
    return default_storage.save(
        f"evidence/{camera.pk}/2026/12/07/{name}", ContentFile(jpeg_bytes())
    )


def test_the_s3_settings_come_from_the_environment():
    from monitoring.lib.env import media_storage

    assert media_storage({})["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    chosen = media_storage(
        {
            "S3_BUCKET": "frames",
            "S3_ENDPOINT_URL": "http://minio:9000",
            "S3_ACCESS_KEY_ID": "id",
            "S3_SECRET_ACCESS_KEY": "secret",
            "S3_PREFIX": "/site-a/",
            "S3_ADDRESSING_STYLE": "path",
        }
    )
    assert chosen["BACKEND"] == "storages.backends.s3.S3Storage"
    options = chosen["OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"], options["location"]) == (
        "frames",
        "http://minio:9000",
        "site-a",
    )
    assert (options["access_key"], options["secret_key"], options["region_name"]) == (
        "id",
        "secret",
        None,
    )


def test_deleting_a_camera_deletes_its_frame_and_evidence_files_on_local_disk(
    local_media, site_a, make_user, eager_tasks, django_capture_on_commit_callbacks
):
    # Given two cameras with frames and evidence on disk
    camera, other = HttpCameraFactory(site=site_a), HttpCameraFactory(site=site_a)
    frames = [store_frame(camera), store_frame(camera, at=timezone.now() - timedelta(days=2))]
    evidence = evidence_of(camera)
    kept = [store_frame(other).image.name, evidence_of(other)]

    # When one camera is deleted through the API
    admin = api_for(make_user(roles.ADMIN, site_a))
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.delete(f"/api/cameras/{camera.pk}/").status_code == 204

    # Then its files and folders are gone, and the other camera's stay
    for name in [frame.image.name for frame in frames] + [evidence]:
        assert not (Path(local_media) / name).exists(), name
    assert not (Path(local_media) / f"frames/{camera.pk}").exists()
    assert not (Path(local_media) / f"evidence/{camera.pk}").exists()
    for name in kept:
        assert (Path(local_media) / name).exists(), name


def test_deleting_a_site_deletes_the_files_of_its_cameras(
    local_media, site_a, eager_tasks, django_capture_on_commit_callbacks
):
    camera = HttpCameraFactory(site=site_a)
    name = store_frame(camera).image.name

    with django_capture_on_commit_callbacks(execute=True):
        site_a.delete()

    assert not (Path(local_media) / name).exists()


def test_deleting_a_camera_deletes_its_objects_in_object_storage(
    s3_server, s3_media, site_a, make_user, eager_tasks, django_capture_on_commit_callbacks
):
    # Given two cameras with frames and evidence in a bucket
    camera, other = HttpCameraFactory(site=site_a), HttpCameraFactory(site=site_a)
    for hours in range(3):
        store_frame(camera, at=timezone.now() - timedelta(hours=hours))
    evidence_of(camera)
    kept = sorted([store_frame(other).image.name, evidence_of(other)])
    assert len(s3_server.keys(s3_media)) == 6

    # When one camera is deleted through its page
    admin = make_user(roles.ADMIN, site_a)
    client = Client()
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/cameras/{camera.pk}/delete/").status_code == 302

    # Then only the other camera's objects are left
    assert s3_server.keys(s3_media) == kept


def test_frames_are_written_read_and_deleted_by_retention_in_object_storage(
    s3_server, s3_media, site_a, eager_tasks, django_capture_on_commit_callbacks
):
    camera = HttpCameraFactory(site=site_a, frame_retention_hours=1)
    now = timezone.now()
    old = capture_frame(camera, jpeg_bytes(), now - timedelta(hours=2), age=0.5)
    recent = capture_frame(camera, jpeg_bytes(colour=(0, 0, 255)), now)
    assert s3_server.keys(s3_media) == sorted([old.image.name, recent.image.name])
    with Frame.objects.get(pk=recent.pk).image.open("rb") as stored:
        assert stored.read() == jpeg_bytes(colour=(0, 0, 255))

    with django_capture_on_commit_callbacks(execute=True):
        assert delete_old_frames(now) == 1

    assert s3_server.keys(s3_media) == [recent.image.name]


def test_a_stored_file_is_read_whole_and_a_missing_one_is_not_found(s3_media, site_a):
    from cameras.storage import read_file

    frame = store_frame(HttpCameraFactory(site=site_a), jpeg_bytes(colour=(1, 2, 3)))

    assert read_file(frame.image.name) == jpeg_bytes(colour=(1, 2, 3))
    with pytest.raises(FileNotFoundError):
        read_file(f"frames/{frame.camera_id}/missing.jpg")
