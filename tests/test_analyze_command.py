"""``manage.py analyze``: a backend tried on image files, results as JSON, one client for
all images, and the vendor's code and message on failure."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image

from tests.sandbox.conftest import PHOTOS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def blank(tmp_path) -> Path:
    path = tmp_path / "blank.jpg"
    Image.new("RGB", (320, 240), (180, 180, 180)).save(path, format="JPEG")
    return path


def _run(*args: str) -> dict:
    out = io.StringIO()
    call_command("analyze", *args, stdout=out)
    return json.loads(out.getvalue())


def test_the_local_backend_counts_people_per_area_on_each_image(blank):
    photo = PHOTOS / "000000.jpg"
    answer = _run(
        str(blank),
        str(photo),
        "--backend",
        "local",
        "--api",
        "body_num",
        "--area",
        "1,1,300,1,300,200,1,200",
    )
    assert answer["backend"] == "local"
    assert [batch["images"] for batch in answer["results"]] == [[str(blank)], [str(photo)]]
    assert answer["results"][0]["result"]["person_count"] == 0
    assert answer["results"][0]["result"]["area_counts"] == [0]


@pytest.mark.django_db(transaction=True)
def test_baidu_through_the_sandbox_fetches_one_token_for_all_images(
    live_server, blank, monkeypatch
):
    from monitoring.backends import baidu

    fetches = []
    original = baidu.TokenManager.fetch

    def counted(self):
        fetches.append(1)
        return original(self)

    monkeypatch.setattr(baidu.TokenManager, "fetch", counted)
    base = f"{live_server.url}/sandbox/baidu"
    answer = _run(
        *[str(blank)] * 3,
        *["--backend", "baidu", "--api", "body_num", "--base-url", base],
        *["--ak", "sandbox-ak", "--sk", "sandbox-sk"],
    )
    assert len(answer["results"]) == 3
    assert all(batch["result"]["person_count"] == 0 for batch in answer["results"])
    assert len(fetches) == 1


@pytest.mark.django_db(transaction=True)
def test_ctyun_fence_sends_all_images_in_one_request(live_server, blank):
    base = f"{live_server.url}/sandbox/ctyun"
    answer = _run(
        str(blank),
        str(blank),
        "--backend",
        "ctyun",
        "--api",
        "fence",
        "--area",
        "1,1,300,1,300,200",
        "--base-url",
        base,
        "--ak",
        "sandbox-ak",
        "--sk",
        "sandbox-sk",
        "--appkey",
        "sandbox-appkey",
    )
    assert [batch["images"] for batch in answer["results"]] == [[str(blank), str(blank)]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("spelling", ["baidu-private", "baidu_private"])
def test_the_private_deployment_is_reached_by_path_on_the_sandbox(live_server, blank, spelling):
    answer = _run(
        str(blank),
        "--backend",
        spelling,
        "--api",
        "body_num",
        "--area",
        "1,1,300,1,300,200,1,200",
        "--base-url",
        f"{live_server.url}/sandbox/baidu-private",
    )
    assert answer["backend"] == spelling
    result = answer["results"][0]["result"]
    assert (result["vendor"], result["person_count"], result["area_counts"]) == (
        "baidu_private",
        0,
        [0],
    )
    assert result["replay"] is False


@pytest.mark.django_db(transaction=True)
def test_a_vendor_error_exits_non_zero_with_the_vendors_code(live_server, blank, tmp_path):
    base = f"{live_server.url}/sandbox/ctyun"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "analyze",
            str(blank),
            "--backend",
            "ctyun",
            "--api",
            "helmet",
            "--base-url",
            base,
            "--ak",
            "sandbox-ak",
            "--sk",
            "wrong-secret",
            "--appkey",
            "sandbox-appkey",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 1
    assert "10020" in result.stderr
    assert result.stdout == ""


def test_a_file_that_is_not_an_image_is_refused_clearly(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "analyze",
            str(text),
            "--backend",
            "local",
            "--api",
            "persons",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "not an image" in result.stderr


@pytest.mark.parametrize("spelling", ["baidu-private", "baidu_private"])
def test_baidu_private_needs_its_host(spelling):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--base-url is required"):
        call_command("analyze", "x.jpg", "--backend", spelling, "--api", "body_attr")
