"""A hand in a danger zone, in a real browser: the admin draws a danger zone over the
press of the demo site-gate camera and adds a hand-in-danger rule on it; when the demo
scene's press operator reaches into the press, the pipeline opens an alert that the
browser lists, with its evidence.

The scene's ground truth stands in for the vendor (as in the live-wall tests): the demo's
painted workers are not a body-keypoint model's working material, so their hands come
from the scene, as wrists of a keypoint answer. The gate, the ledger, the rules, the
alert lifecycle and the pages are the real ones.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from alerts.models import Alert, Rule
from cameras.demo_data import DEMO_CAMERAS
from cameras.frames import store_frame
from cameras.models import Camera, CameraAnalysis, Region
from cameras.sources.demo import get_scene
from monitoring import pipeline
from monitoring.backends.base import AnalysisResult, Box, Keypoint, Person
from tests.conftest import PASSWORD
from tests.e2e.conftest import login
from tests.e2e.test_fence_editor import Editor
from tests.e2e.test_live_wall import keep_screenshot, on_server
from tests.pipeline import add_analysis, install_analyzer

pytestmark = pytest.mark.timeout(180)

# Around the press's feed opening (cameras.sources.demo.PRESS_OPENING), in frame pixels.
DANGER = [[258, 362], [350, 362], [350, 438], [258, 438]]


class SceneKeypoints:
    """Answers the on-box ``persons`` API with the demo scene's persons at ``t``: boxes,
    shoulders and hips from the box, and a wrist at each hand of the ground truth."""

    vendor = "local"
    capabilities = frozenset({"persons"})

    def __init__(self, scene):
        self.scene = scene
        self.t = 0.0

    def analyze(self, api: str, images: list[bytes], params: dict | None = None):
        persons = []
        for truth in self.scene.ground_truth(self.t).persons:
            left, top, width, height = truth.box
            points = [
                Keypoint("left_shoulder", left + width * 0.4, top + height * 0.2, 0.8),
                Keypoint("right_shoulder", left + width * 0.6, top + height * 0.2, 0.8),
                Keypoint("left_hip", left + width * 0.4, top + height * 0.5, 0.8),
                Keypoint("right_hip", left + width * 0.6, top + height * 0.5, 0.8),
            ]
            for name, (x, y) in zip(("left_wrist", "right_wrist"), truth.hands, strict=False):
                points.append(Keypoint(name, x, y, 0.7))
            persons.append(Person(Box(left, top, width, height), 0.9, keypoints=points))
        width, height = self.scene.size
        return AnalysisResult(
            vendor="local",
            api=api,
            frame_width=width,
            frame_height=height,
            persons=persons,
            person_count=len(persons),
        )


@pytest.fixture
def gate(asgi_live_server, settings, tmp_path, monkeypatch):
    """The demo site-gate camera with a frame of a quiet moment, its paid analyses off
    and the scene's keypoints as its on-box analysis."""
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("demo", password=PASSWORD, stdout=io.StringIO())
    camera = Camera.objects.get(name=DEMO_CAMERAS[0][0])
    scene = get_scene(camera.source_url)
    CameraAnalysis.objects.filter(camera=camera).update(enabled=False)
    analyzer = SceneKeypoints(scene)
    install_analyzer(monkeypatch, analyzer)
    add_analysis(camera, "persons", interval=0.5)
    store_frame(camera, scene.jpeg(0.0), timezone.now() - timedelta(seconds=30))
    return camera, scene, analyzer


def reaching_moments(scene) -> tuple[float, float]:
    """A moment when nobody's hand is in the press, and the next one when one is."""
    quiet = None
    for t in range(0, 120):
        inside = any(p.hand_in_danger for p in scene.ground_truth(float(t)).persons)
        if not inside:
            quiet = float(t)
        elif quiet is not None:
            return quiet, float(t)
    raise AssertionError("the press operator never reaches into the press")


def analyse(camera_id: int, analyzer: SceneKeypoints, t: float, at) -> None:
    camera = Camera.objects.get(pk=camera_id)
    analyzer.t = t
    frame = store_frame(camera, analyzer.scene.jpeg(t), at)
    outcome = pipeline.analyze_frame(frame.pk, now=at + timedelta(seconds=0.1))
    assert outcome.status == "analyzed", outcome


def test_an_alert_opens_when_the_demo_worker_reaches_into_a_drawn_danger_zone(
    gate, asgi_live_server, page, page_errors, tmp_path
):
    camera, scene, analyzer = gate
    server = asgi_live_server

    # Given the admin draws a danger zone over the press and saves it
    login(page, server.url, "admin")
    editor = Editor(page, camera).open()
    editor.draw(DANGER)
    editor.save_as("Press 2", "danger")
    editor.wait_until_saved("Press 2")
    region = Region.objects.get(camera=camera, name="Press 2")
    assert (region.kind, region.points) == ("danger", DANGER)

    # and adds a rule for hands in it on the rule form
    page.goto(f"/alerts/rules/new/?camera={camera.pk}")
    page.fill("#id_name", "Hands out of press 2")
    page.select_option("#id_kind", "hand_in_danger")
    page.select_option("#id_region", str(region.pk))
    page.select_option("#id_severity", "critical")
    page.fill("#id_consecutive_frames", "1")
    page.fill("#id_cooldown_seconds", "0")
    with page.expect_navigation():
        page.click("#rule-save")
    rule = Rule.objects.get(camera=camera, name="Hands out of press 2")
    assert (rule.kind, rule.region_id) == ("hand_in_danger", region.pk)

    # When the camera sees the operator at the press, first hands off, then reaching in
    quiet, reaching = reaching_moments(scene)
    now = timezone.now()
    on_server(server, analyse, camera.pk, analyzer, quiet, now)
    assert not Alert.objects.filter(rule=rule).exists()
    on_server(server, analyse, camera.pk, analyzer, reaching, now + timedelta(seconds=1))

    # Then the alert is listed, critical, and its page says where the hand was
    alert = Alert.objects.get(rule=rule)
    assert alert.findings[0]["points"]
    page.goto("/alerts/")
    row = page.locator(f"[data-alert-id='{alert.pk}'], tr:has(a[href='/alerts/{alert.pk}/'])")
    assert row.count() >= 1, page.content()[:2000]
    page.goto(f"/alerts/{alert.pk}/")
    body = page.locator("main").inner_text()
    assert "1 hand in 'Press 2'" in body
    evidence = page.locator("img[src*='evidence'], img[src*='/frame/']").first
    evidence.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=evidence.element_handle()
    )
    keep_screenshot(page, tmp_path, "hand-in-danger-alert.png")
    assert page_errors == []
