"""The product as several hosts: the capture service, a Celery worker and the web process
run as separate processes, each with a local folder of its own (``DATA_DIR`` and
``MEDIA_ROOT``, as if on three machines), sharing only PostgreSQL, a Redis started here
and an S3-compatible server started here (``moto`` in server mode).

A demo camera whose fence covers the whole picture: capture writes frames to the bucket,
the worker reads them from there, runs the on-box person analysis and opens an alert
with its evidence picture in the bucket, and the web process serves that picture. No
process ever writes to another's folder, and nothing lands in any local media folder.
"""

from __future__ import annotations

import io
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from PIL import Image
from rest_framework.authtoken.models import Token

from tests.pipeline.test_faults import Processes, RedisServer
from tests.s3_server import S3Server
from tests.servers import free_port, start_logged, stop_group, test_database_url, wait_for

WIDTH, HEIGHT = 1280, 720
WHOLE_PICTURE = [[0, 0], [WIDTH, 0], [WIDTH, HEIGHT], [0, HEIGHT]]

_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
pytestmark = [
    pytest.mark.services,
    pytest.mark.timeout(300),
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (_postgres and __import__("shutil").which("redis-server")),
        reason="needs the real PostgreSQL of `make test` and a redis-server binary",
    ),
]


class Hosts(Processes):
    """The three processes, each started with its own host's environment."""

    def host(self, name: str, base: dict[str, str]) -> dict[str, str]:
        folder = self.folder / name
        (folder / "media").mkdir(parents=True)
        return {**base, "DATA_DIR": str(folder), "MEDIA_ROOT": str(folder / "media")}

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        process = start_logged(command, env, self.folder / f"{name}.log")
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        stop_group(process)

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)}" for name in ("capture", "worker", "web"))


def the_scene():
    """A site, a demo camera sampled every second whose fence is the whole picture, the
    on-box persons analysis on every frame, a fence rule, and an operator's API token."""
    from django.contrib.auth import get_user_model

    from alerts.models import Rule
    from cameras import roles
    from cameras.models import Camera, CameraAnalysis, Region, Site
    from monitoring.models import VendorAccount

    site = Site.objects.create(name="Three hosts")
    account = VendorAccount.objects.create(name="On-box", vendor="local")
    camera = Camera.objects.create(
        site=site,
        name="Gate",
        source_kind="demo",
        source_url="demo://site-gate",
        sample_interval=1,
        width=WIDTH,
        height=HEIGHT,
    )
    fence = Region.objects.create(
        camera=camera,
        name="Everywhere",
        kind="fence",
        points=WHOLE_PICTURE,
        frame_width=WIDTH,
        frame_height=HEIGHT,
    )
    CameraAnalysis.objects.create(camera=camera, api="persons", account=account, interval=0.2)
    Rule.objects.create(
        camera=camera,
        region=fence,
        name="No entry",
        kind="fence_intrusion",
        consecutive_frames=1,
        cooldown_seconds=0,
        clear_after_seconds=600,
    )
    user = get_user_model().objects.create_user(username="operator", password="x" * 20)
    user.groups.add(roles.ensure_roles()[roles.OPERATOR])
    site.members.add(user)
    return camera, Token.objects.create(user=user).key


def steady(alert, seconds: float = 3.0) -> bool:
    """Whether the alert's evidence stayed the same for ``seconds``."""
    before = type(alert).objects.get(pk=alert.pk).evidence.name
    time.sleep(seconds)
    return type(alert).objects.get(pk=alert.pk).evidence.name == before


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_capture_worker_and_web_on_separate_hosts_share_frames_and_evidence_through_s3(
    tmp_path,
):
    from alerts.models import Alert
    from cameras.models import Frame

    redis = RedisServer(tmp_path)
    redis.start()
    s3 = S3Server().start()
    hosts = Hosts(tmp_path, {})
    try:
        bucket = s3.bucket("site-media")
        camera, token = the_scene()
        shared = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("S3_", "AWS_", "MEDIA_ROOT", "DATA_DIR", "REDIS_URL"))
        }
        shared |= {
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": redis.url,
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "PYTHONUNBUFFERED": "1",
            **s3.environment(bucket),
        }
        capture_host = hosts.host("capture", shared)
        worker_host = hosts.host("worker", shared)
        web_host = hosts.host("web", shared)
        port = free_port()

        # Given the three processes, each on its own "host"
        hosts.start(
            "worker",
            ["-m", "celery", "-A", "monitoring", "worker", "--pool", "solo",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            worker_host,
        )  # fmt: skip
        hosts.start(
            "web",
            ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "monitoring.asgi:application"],
            web_host,
        )
        capture = hosts.start(
            "capture", ["manage.py", "capture", "--camera", str(camera.pk)], capture_host
        )

        # When the camera's frames flow: an alert with evidence is opened
        alert = wait_for(
            lambda: Alert.objects.filter(camera=camera).exclude(evidence="").first(),
            150,
            "an alert with evidence",
            hosts.logs,
            step=0.5,
        )

        # (capture stopped and the worker's queue drained: the alert's evidence picture
        # is replaced while the condition holds)
        hosts.stop(capture)
        wait_for(lambda: steady(alert), 60, "the worker to finish", hosts.logs, step=0.5)
        alert.refresh_from_db()

        # Then frames and the evidence are objects in the bucket, under the camera
        keys = s3.keys(bucket)
        frame_names = set(Frame.objects.filter(camera=camera).values_list("image", flat=True))
        assert frame_names and frame_names <= set(keys)
        assert alert.evidence.name in keys
        assert alert.evidence.name.startswith(f"evidence/{camera.pk}/")

        # and the web process serves the evidence picture it never wrote
        answer = wait_for(
            lambda: httpx.get(
                f"http://127.0.0.1:{port}/api/alerts/{alert.pk}/evidence/",
                headers={"Authorization": f"Token {token}"},
                timeout=10,
            ),
            30,
            "the web process",
            hosts.logs,
        )
        assert answer.status_code == 200, (answer.text[:500], hosts.log("web"))
        picture = Image.open(io.BytesIO(answer.content))
        assert (picture.format, picture.size) == ("JPEG", (WIDTH, HEIGHT))
        data = s3.client().get_object(Bucket=bucket, Key=alert.evidence.name)["Body"].read()
        assert answer.content == data

        # and no host kept a frame or an evidence picture on its local disk
        for name in ("capture", "worker", "web"):
            assert files_under(tmp_path / name / "media") == [], name
    finally:
        hosts.stop_all()
        s3.stop()
        redis.stop()
