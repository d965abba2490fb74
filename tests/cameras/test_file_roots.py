"""File sources read only under CAMERA_FILE_ROOTS, judged after resolving links, never
the product's own data (other sites' frames and evidence), and every refusal says the
same words, in the camera form and API, "Test connection" and capture alike."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client
from django.utils.html import escape
from PIL import Image
from rest_framework.test import APIClient

from cameras import roles
from cameras.models import Camera
from cameras.sources import SourceError, open_source
from cameras.sources.files import OUTSIDE_ROOTS
from tests.factories import CameraFactory


def picture(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), (90, 90, 90)).save(path, format="JPEG")
    return path


@pytest.fixture
def roots(tmp_path, settings):
    """An allowed root with a picture, a folder beside it, and the product's media."""
    allowed = tmp_path / "allowed"
    outside = tmp_path / "outside"
    media = tmp_path / "data" / "media"
    picture(allowed / "yard.jpg")
    picture(outside / "secret.jpg")
    picture(media / "frames" / "site-a" / "frame.jpg")
    settings.CAMERA_FILE_ROOTS = [allowed]
    settings.DATA_DIR = tmp_path / "data"
    settings.MEDIA_ROOT = media
    return {"allowed": allowed, "outside": outside, "media": media, "tmp": tmp_path}


def refusal_of(url: str) -> str:
    with pytest.raises(SourceError) as caught:
        open_source({"source_kind": "file", "source_url": url})
    return caught.value.message


def test_a_file_under_a_root_is_read(roots):
    with open_source({"source_kind": "file", "source_url": str(roots["allowed"])}) as source:
        assert source.grab()[:2] == b"\xff\xd8"


@pytest.mark.parametrize(
    "where",
    [
        lambda r: r["outside"] / "secret.jpg",  # exists, outside
        lambda r: r["outside"] / "missing.jpg",  # missing, outside
        lambda r: r["allowed"] / ".." / "outside" / "secret.jpg",  # climbs out with ..
        lambda r: r["media"] / "frames" / "site-a" / "frame.jpg",  # another site's frames
        lambda r: Path("/etc/passwd"),
        lambda r: Path("relative/yard.jpg"),
    ],
)
def test_every_path_outside_the_roots_gets_the_same_refusal(roots, where):
    assert refusal_of(str(where(roots))) == str(OUTSIDE_ROOTS)


def test_a_file_url_outside_the_roots_gets_the_same_refusal(roots):
    assert refusal_of(f"file://{roots['outside'] / 'secret.jpg'}") == str(OUTSIDE_ROOTS)


def test_a_link_from_a_root_to_outside_is_refused(roots):
    link = roots["allowed"] / "escape"
    os.symlink(roots["outside"], link)

    assert refusal_of(str(link)) == str(OUTSIDE_ROOTS)
    assert refusal_of(str(link / "secret.jpg")) == str(OUTSIDE_ROOTS)


def test_an_image_linked_into_an_allowed_folder_from_outside_is_skipped(roots):
    folder = roots["allowed"] / "mixed"
    picture(folder / "a-own.jpg")
    os.symlink(roots["outside"] / "secret.jpg", folder / "b-linked.jpg")

    with open_source({"source_kind": "file", "source_url": str(folder)}) as source:
        assert [path.name for path in source._images] == ["a-own.jpg"]


def test_the_products_media_is_refused_even_under_a_root(roots, settings):
    settings.CAMERA_FILE_ROOTS = [roots["tmp"]]

    assert refusal_of(str(roots["media"] / "frames" / "site-a" / "frame.jpg")) == str(OUTSIDE_ROOTS)
    assert refusal_of(str(roots["tmp"] / "data")) == str(OUTSIDE_ROOTS)


# ---------------------------------------------------------------- API, pages, capture


@pytest.fixture
def admin_api(make_user, site_a) -> APIClient:
    client = APIClient()
    client.force_login(make_user(roles.ADMIN, site_a))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["secret.jpg", "missing.jpg"])
def test_the_camera_api_refuses_a_path_outside_the_roots_with_one_message(
    roots, admin_api, site_a, name
):
    response = admin_api.post(
        "/api/cameras/",
        {
            "site": site_a.pk,
            "name": "Peek",
            "source_kind": "file",
            "source_url": str(roots["outside"] / name),
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["source_url"] == [str(OUTSIDE_ROOTS)]
    assert not Camera.objects.exists()


@pytest.mark.django_db
def test_the_camera_api_accepts_a_path_under_a_root(roots, admin_api, site_a):
    response = admin_api.post(
        "/api/cameras/",
        {
            "site": site_a.pk,
            "name": "Yard",
            "source_kind": "file",
            "source_url": str(roots["allowed"] / "yard.jpg"),
        },
        format="json",
    )

    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_a_camera_saved_before_the_roots_cannot_be_read_through_the_frame_grab(roots, site_a):
    from cameras.views import grab_snapshot

    camera = CameraFactory(
        site=site_a,
        name="Old",
        source_kind="file",
        source_url=str(roots["media"] / "frames" / "site-a"),
    )

    assert grab_snapshot(camera) == {"error": str(OUTSIDE_ROOTS)}


@pytest.mark.django_db
def test_the_camera_page_refuses_a_path_outside_the_roots(roots, make_user, site_a):
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(make_user(roles.ADMIN, site_a))

    response = browser.post(
        "/cameras/new/",
        {
            "site": site_a.pk,
            "name": "Peek",
            "source_kind": "file",
            "source_url": str(roots["outside"]),
            "sample_interval": "2",
            "enabled": "on",
            "frame_retention_hours": "24",
        },
    )

    assert response.status_code == 200
    assert escape(str(OUTSIDE_ROOTS)) in response.content.decode()
    assert not Camera.objects.exists()
