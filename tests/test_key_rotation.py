"""Rotating the key of the encrypted fields: old keys still read, ``reencrypt_fields``
writes everything again with the first key, and a value no key opens shows as "needs
re-entry" instead of turning pages into 500s."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings

from cameras import roles
from cameras.models import Camera
from monitoring.lib.crypto import derive_fernet_key, needs_reentry
from monitoring.models import VendorAccount
from tests.factories import BaiduAccountFactory, CameraFactory

ROOT = Path(__file__).resolve().parent.parent
OLD, NEW = "old-field-key-" + "o" * 40, "new-field-key-" + "n" * 40
CAMERA_PASSWORD = "cam-pass-5gT8"
AK, SK = "AK-rotate-1q2w3e", "SK-rotate-4r5t6y"


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def opens_with(token: str, secret: str) -> str:
    return Fernet(derive_fernet_key(secret)).decrypt(token.encode()).decode()


@pytest.fixture
def written_with_old_key(site_a):
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        camera = CameraFactory(
            site=site_a,
            name="Gate",
            source_kind="http",
            source_url="http://192.0.2.10/snapshot.jpg",
            username="viewer",
            password=CAMERA_PASSWORD,
        )
        account = BaiduAccountFactory(name="Baidu", site=site_a, api_key=AK, secret_key=SK)
    return camera, account


@pytest.mark.django_db
def test_after_rotation_the_old_key_still_reads(written_with_old_key):
    camera, account = written_with_old_key

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        assert Camera.objects.get(pk=camera.pk).password == CAMERA_PASSWORD
        assert VendorAccount.objects.get(pk=account.pk).secret_key == SK


@pytest.mark.django_db
def test_the_reencrypt_command_writes_every_field_with_the_first_key(written_with_old_key):
    camera, account = written_with_old_key
    out = io.StringIO()

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        call_command("reencrypt_fields", stdout=out)

    assert "cameras.Camera.password: 1 re-encrypted, 0 unreadable" in out.getvalue()
    assert "monitoring.VendorAccount.api_key: 1 re-encrypted" in out.getvalue()
    assert opens_with(raw("cameras_camera", "password", camera.pk), NEW) == CAMERA_PASSWORD
    assert opens_with(raw("monitoring_vendoraccount", "secret_key", account.pk), NEW) == SK
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):  # the old key can now go
        assert Camera.objects.get(pk=camera.pk).password == CAMERA_PASSWORD
        assert VendorAccount.objects.get(pk=account.pk).api_key == AK


@pytest.mark.django_db
def test_the_reencrypt_command_counts_and_keeps_what_no_key_opens(written_with_old_key):
    camera, _account = written_with_old_key
    before = raw("cameras_camera", "password", camera.pk)
    out, err = io.StringIO(), io.StringIO()

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        call_command("reencrypt_fields", stdout=out, stderr=err)

    assert "cameras.Camera.password: 0 re-encrypted, 1 unreadable" in out.getvalue()
    assert "could not be decrypted" in err.getvalue()
    assert raw("cameras_camera", "password", camera.pk) == before


@pytest.fixture
def key_lost(written_with_old_key):
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        yield written_with_old_key


@pytest.fixture
def admin_browser(make_user, site_a) -> Client:
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(make_user(roles.ADMIN, site_a))
    return browser


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/live/", "/cameras/", "/api/cameras/", "/vendor-accounts/", "/api/vendor-accounts/"]
)
def test_pages_answer_200_when_a_secret_cannot_be_decrypted(key_lost, admin_browser, url):
    assert admin_browser.get(url).status_code == 200


@pytest.mark.django_db
def test_the_api_says_which_secrets_need_reentry(key_lost, admin_browser):
    camera, account = key_lost

    cameras = admin_browser.get("/api/cameras/").json()["results"]
    accounts = admin_browser.get("/api/vendor-accounts/").json()["results"]

    assert [(row["id"], row["password_needs_reentry"]) for row in cameras] == [(camera.pk, True)]
    assert [(row["id"], row["needs_reentry"]) for row in accounts] == [
        (account.pk, ["api_key", "secret_key"])
    ]


@pytest.mark.django_db
def test_the_edit_pages_show_needs_reentry(key_lost, admin_browser):
    camera, account = key_lost

    camera_page = admin_browser.get(f"/cameras/{camera.pk}/").content.decode()
    account_page = admin_browser.get(f"/vendor-accounts/{account.pk}/").content.decode()
    account_list = admin_browser.get("/vendor-accounts/").content.decode()

    assert "needs re-entry" in camera_page
    assert "needs re-entry" in account_page
    assert "needs re-entry" in account_list


@pytest.mark.django_db
def test_saving_a_row_keeps_a_secret_it_could_not_read(key_lost):
    camera, _account = key_lost
    loaded = Camera.objects.get(pk=camera.pk)
    assert needs_reentry(loaded.password)

    loaded.name = "Gate, renamed"
    loaded.save()

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):  # the key comes back
        assert Camera.objects.get(pk=camera.pk).password == CAMERA_PASSWORD


@pytest.mark.django_db
def test_a_camera_whose_password_cannot_be_read_says_so_when_grabbing(key_lost):
    from cameras.sources import SourceError, open_source

    camera, _account = key_lost

    with pytest.raises(SourceError, match="enter it again"):
        open_source(Camera.objects.get(pk=camera.pk))


def test_field_encryption_keys_come_from_the_environment_newest_first(tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE"))}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.FIELD_ENCRYPTION_KEYS)",
        ],
        cwd=ROOT,
        env={
            **base,
            "DATA_DIR": str(tmp_path),
            "REDIS_URL": "",
            "FIELD_ENCRYPTION_KEYS": f"{NEW},{OLD}",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str([NEW, OLD])
