"""The live wall in a real browser, against the whole ASGI application: an alert opened on
a demo camera arrives without a reload, one operator acknowledges it and another sees it
acknowledged, and the wall reconnects by itself when the server drops its socket.

Frames, analyses and alerts are made on the live server's event loop (``on_server``), so
that events leave through the same channel layer the browsers listen on, as they do when
a worker publishes them.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.utils import timezone

from alerts import events
from alerts.lifecycle import apply_decision
from alerts.models import Alert, AlertStatus, Rule
from alerts.rules import evaluate, initial_state
from cameras import roles
from cameras.demo_data import DEMO_CAMERAS, FENCE_NAME, add_demo_cameras
from cameras.frames import store_frame
from cameras.models import Camera, CameraAnalysis, Site
from cameras.sources.demo import get_scene
from monitoring import analysis_health
from monitoring.backends.base import AnalysisResult, Box, Keypoint, Person
from monitoring.management.commands.demo import DEMO_SITE
from tests.conftest import PASSWORD
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, login

pytestmark = pytest.mark.timeout(180)

GATE_CAMERA, GATE_SCENE, _interval = DEMO_CAMERAS[0]


def on_server(server, function, *args):
    """Run ``function(*args)`` in a worker thread of the live server, as a consumer's
    database call would run, and return its result."""
    return server.call(sync_to_async(function, thread_sensitive=True), *args)


def keep_screenshot(page, tmp_path: Path, name: str) -> Path:
    """Save a screenshot in the test's folder, and in ``E2E_SCREENSHOT_DIR`` when set."""
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    folder = os.environ.get("E2E_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / name)
    return path


def close_live_sockets(server) -> int:
    """Close every websocket of the live server from the server's side, as a restart or a
    proxy timeout does. Returns how many were closed."""
    from daphne.ws_protocol import WebSocketProtocol
    from twisted.internet import reactor

    closed: list[int] = []
    done = threading.Event()

    def close() -> None:
        for protocol in list(server._server.connections):
            if isinstance(protocol, WebSocketProtocol) and protocol.state == protocol.STATE_OPEN:
                protocol.serverClose(code=1000)
                closed.append(1)
        done.set()

    reactor.callFromThread(close)
    assert done.wait(5), "the server did not close its sockets"
    return len(closed)


@pytest.fixture
def demo(asgi_live_server, settings, tmp_path):
    """The demo site with its users and cameras, and a no-entry rule on the gate's fence."""
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("demo", password=PASSWORD, stdout=io.StringIO())
    site = Site.objects.get(name=DEMO_SITE)
    add_demo_cameras(site, io.StringIO())
    camera = Camera.objects.get(site=site, name=GATE_CAMERA)
    fence = camera.regions.get(name=FENCE_NAME)
    rule = Rule.objects.create(
        camera=camera,
        region=fence,
        name="No entry past the gate",
        kind="fence_intrusion",
        severity="critical",
        min_confidence=0.5,
        cooldown_seconds=0,
        clear_after_seconds=600,
    )
    return {"site": site, "camera": camera, "fence": fence, "rule": rule}


def moment_with_an_intruder(scene) -> float:
    """A time of the demo scene when someone stands inside its fence, and someone not."""
    for t in range(0, 900):
        truth = scene.ground_truth(float(t))
        inside = [person for person in truth.persons if person.in_fence]
        if inside and len(inside) < len(truth.persons):
            return float(t)
    raise AssertionError("the demo scene never shows an intruder")


def analyse_demo_frame(camera_id: int, rule_id: int, t: float) -> tuple[int, int | None]:
    """What the pipeline does for one frame of the demo camera: store it, analyse it (the
    scene's ground truth stands in for the vendor), let the rule decide, open or update the
    alert, and publish the overlay. Returns the frame's and the alert's ids."""
    camera = Camera.objects.get(pk=camera_id)
    rule = Rule.objects.select_related("region").get(pk=rule_id)
    scene = get_scene(camera.source_url)
    truth = scene.ground_truth(t)
    now = timezone.now()
    frame = store_frame(camera, scene.jpeg(t), now)
    persons = []
    for person in truth.persons:
        left, top, width, height = person.box
        persons.append(
            Person(
                box=Box(left, top, width, height),
                score=0.93,
                keypoints=[
                    Keypoint("top_head", left + width / 2, top, 0.9),
                    Keypoint("neck", left + width / 2, top + height * 0.18, 0.9),
                    Keypoint("left_hip", left + width * 0.4, top + height * 0.55, 0.8),
                    Keypoint("right_hip", left + width * 0.6, top + height * 0.55, 0.8),
                    Keypoint("left_ankle", left + width * 0.35, top + height, 0.8),
                    Keypoint("right_ankle", left + width * 0.65, top + height, 0.8),
                ],
            )
        )
    found = [
        AnalysisResult(
            vendor="local",
            api="body_analysis",
            frame_width=frame.width,
            frame_height=frame.height,
            persons=persons,
            person_count=len(persons),
            request_id=f"demo-{t:g}",
            raw={"person_num": len(persons)},
        )
    ]
    region = rule.region
    decision, _state = evaluate(
        rule.to_config(),
        found,
        [tuple(point) for point in region.points],
        initial_state(),
        now=now,
        frame_size=(frame.width, frame.height),
    )
    alert = apply_decision(
        rule,
        camera,
        region,
        decision,
        frame=frame,
        results=found,
        vendor_calls=[
            {"request_id": f"demo-{t:g}", "vendor": "local", "api": "body_analysis", "cost": "0"}
        ],
        now=now,
    )
    problems = []
    if decision.holds:
        problems.append(
            events.Problem(
                rule_id=rule.pk,
                kind=rule.kind,
                severity=rule.severity,
                summary=decision.summary,
                findings=decision.findings,
                alert_id=alert.pk if alert else None,
                region_id=region.pk,
            )
        )
    events.publish_frame_analyzed(camera, frame, found, problems)
    return frame.pk, (alert.pk if alert else None)


def publish_camera_status(camera_id: int) -> int:
    camera = Camera.objects.get(pk=camera_id)
    camera.health, camera.health_reason = "online", ""
    camera.health_changed_at = timezone.now() - timedelta(minutes=5)
    camera.save()
    from monitoring.pipeline import on_camera_health

    return on_camera_health(camera).pk


def open_live_wall(page, base_url: str, username: str) -> None:
    login(page, base_url, username)  # an operator lands on the live wall
    if not page.url.endswith("/live/"):
        page.goto("/live/")
    page.wait_for_selector("#live[data-ready=true]")
    page.wait_for_selector("#connection[data-state=connected]")


def test_an_alert_on_the_demo_camera_arrives_live_and_its_acknowledgement_reaches_a_second_operator(
    demo, asgi_live_server, browser, page, page_errors, make_user, tmp_path
):
    camera, rule = demo["camera"], demo["rule"]
    make_user(roles.OPERATOR, demo["site"], username="oscar")
    server = asgi_live_server
    open_live_wall(page, server.url, "operator")
    second = browser.new_context(
        base_url=server.url, locale="en-US", viewport={"width": 1280, "height": 900}
    )
    second.set_default_timeout(DEFAULT_TIMEOUT_MS)
    other = second.new_page()
    other.on("pageerror", lambda error: page_errors.append(f"second page: {error}"))
    try:
        open_live_wall(other, server.url, "oscar")
        tile = page.locator(f"#camera-{camera.pk}")
        assert "No frame yet" in tile.inner_text()

        # When the pipeline analyses a frame with someone inside the fence.
        t = moment_with_an_intruder(get_scene(camera.source_url))
        frame_id, alert_id = on_server(server, analyse_demo_frame, camera.pk, rule.pk, t)

        # Then the alert is in both feeds and the tile shows the analysed frame, no reload.
        assert alert_id is not None
        item = page.locator(f'#feed .alert-item[data-alert="{alert_id}"]')
        item.wait_for()
        assert item.get_attribute("data-status") == "open"
        assert "No entry past the gate" in item.inner_text()
        assert "severity-critical" in item.get_attribute("class")
        page.wait_for_selector(f'#camera-{camera.pk}[data-frame="{frame_id}"]')
        page.wait_for_function(
            "id => document.querySelector(`#camera-${id} [data-role=frame]`).naturalWidth > 0",
            arg=camera.pk,
        )
        page.wait_for_selector(f"#camera-{camera.pk}.alerting-critical")
        assert "1 unresolved alert" in tile.locator("[data-role=alerts]").inner_text()
        assert "inside" in tile.locator("[data-role=caption]").inner_text()
        other_item = other.locator(f'#feed .alert-item[data-alert="{alert_id}"]')
        other_item.wait_for()
        keep_screenshot(page, tmp_path, "live-wall-alert.png")
        tile.locator("[data-role=enlarge]").click()
        page.wait_for_selector(f"#camera-{camera.pk}.tile-large")
        keep_screenshot(page, tmp_path, "live-wall-enlarged-overlay.png")

        # When the first operator acknowledges it on the wall.
        item.locator("button[data-action=acknowledge]").click()

        # Then both walls show it acknowledged, without a reload.
        page.wait_for_selector(
            f'#feed .alert-item[data-alert="{alert_id}"][data-status=acknowledged]'
        )
        other.wait_for_selector(
            f'#feed .alert-item[data-alert="{alert_id}"][data-status=acknowledged]'
        )
        assert "Acknowledged by operator" in other_item.inner_text()
        assert other_item.locator("button[data-action=acknowledge]").is_hidden()
        keep_screenshot(other, tmp_path, "live-wall-acknowledged-second-operator.png")
        alert = Alert.objects.get(pk=alert_id)
        assert alert.status == AlertStatus.ACKNOWLEDGED
        assert alert.acknowledged_by.username == "operator"

        # And the second operator resolves it with a note, which the first one sees.
        other_item.locator("button[data-action=resolve]").click()
        other_item.locator("textarea[name=note]").fill("Visitor walked back out of the fence")
        other_item.locator("form.resolve-form button[type=submit]").click()
        page.wait_for_selector(f'#feed .alert-item[data-alert="{alert_id}"][data-status=resolved]')
        assert "Resolved by oscar: Visitor walked back out of the fence" in item.inner_text()
        page.wait_for_selector(f"#camera-{camera.pk}:not(.alerting)")

        # The alert's page shows the evidence, with the overlay drawn over the frame, and
        # the whole history.
        item.locator("a.alert-title").click()
        page.wait_for_selector("#alert-stage[data-ready=true]")
        page.wait_for_function("document.getElementById('evidence-image').naturalWidth > 0")
        history = page.locator("#history").inner_text()
        assert "acknowledged" in history and "Visitor walked back out of the fence" in history
        keep_screenshot(page, tmp_path, "alert-detail.png")
        page.goto("/alerts/?status=resolved")
        assert page.locator(f'tr[data-alert="{alert_id}"]').count() == 1
        keep_screenshot(page, tmp_path, "alert-list.png")

        # On a phone the feed comes first, above the cameras.
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto("/live/")
        page.wait_for_selector("#connection[data-state=connected]")
        feed_top = page.locator(".feed").bounding_box()["y"]
        assert feed_top < page.locator(f"#camera-{camera.pk}").bounding_box()["y"]
        keep_screenshot(page, tmp_path, "live-wall-phone.png")
    finally:
        second.close()
    assert page_errors == []


def test_the_connection_indicator_follows_a_dropped_socket_and_the_wall_catches_up(
    demo, asgi_live_server, page, page_errors, tmp_path
):
    camera, rule = demo["camera"], demo["rule"]
    server = asgi_live_server
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    open_live_wall(page, server.url, "operator")
    status_event = on_server(server, publish_camera_status, camera.pk)
    page.wait_for_function(
        "id => document.querySelector(`#camera-${id} [data-role=health]`).textContent.trim()"
        " === 'online'",
        arg=camera.pk,
    )
    assert page.locator("#connection").inner_text().strip() == "Connected"
    assert len(sockets) == 1

    # When the server closes the socket (a restart, a proxy's timeout).
    assert close_live_sockets(server) == 1

    # Then the wall says it is reconnecting, and soon that it is connected again,
    # resuming after the last event it saw.
    page.wait_for_selector("#connection[data-state=reconnecting]")
    assert page.locator("#connection").inner_text().strip() == "Reconnecting…"
    keep_screenshot(page, tmp_path, "live-wall-reconnecting.png")
    page.wait_for_selector("#connection[data-state=connected]", timeout=20_000)
    assert len(sockets) == 2
    assert sockets[1].endswith(f"?last_event_id={status_event}")

    # When the socket drops while the browser is off the network, and an alert opens
    # meanwhile.
    assert close_live_sockets(server) == 1
    page.context.set_offline(True)
    page.wait_for_selector("#connection[data-state=offline]")
    t = moment_with_an_intruder(get_scene(camera.source_url))
    _frame_id, alert_id = on_server(server, analyse_demo_frame, camera.pk, rule.pk, t)
    assert page.locator(f'#feed .alert-item[data-alert="{alert_id}"]').count() == 0

    # Then, back on the network, it reconnects by itself and catches up on what it missed.
    page.context.set_offline(False)
    page.wait_for_selector("#connection[data-state=connected]", timeout=20_000)
    page.locator(f'#feed .alert-item[data-alert="{alert_id}"]').wait_for()
    assert "last_event_id=" in sockets[-1]
    # Attempts made while offline fail, and the browser says so in its console.
    assert [error for error in page_errors if "WebSocket connection" not in error] == []


def make_analysis_fail(camera_id: int, detail: str) -> int:
    """An analysis of the camera fails, reported the way the pipeline does."""
    analysis = CameraAnalysis.objects.filter(camera_id=camera_id, enabled=True).order_by("pk")[0]
    analysis_health.set_health(
        analysis, "failing", "unavailable", detail=detail, now=timezone.now()
    )
    return analysis.pk


def make_analyses_ok(camera_id: int) -> None:
    for analysis in CameraAnalysis.objects.filter(camera_id=camera_id, enabled=True):
        analysis_health.set_health(analysis, "ok", "", now=timezone.now(), success=True)


def test_a_camera_whose_analysis_is_failing_says_so_on_its_tile(
    demo, asgi_live_server, page, page_errors
):
    camera = demo["camera"]
    on_server(asgi_live_server, make_analyses_ok, camera.pk)
    open_live_wall(page, asgi_live_server.url, "operator")
    banner = page.locator(f"#camera-{camera.pk} [data-role=analysis]")
    assert banner.is_hidden()

    on_server(asgi_live_server, make_analysis_fail, camera.pk, "quota used up")

    banner.wait_for()
    assert "failing" in banner.inner_text() and "quota used up" in banner.inner_text()
    assert "analysis-unavailable" in page.locator(f"#camera-{camera.pk}").get_attribute("class")

    # And once it works again, the tile says nothing more
    on_server(asgi_live_server, make_analyses_ok, camera.pk)
    banner.wait_for(state="hidden")
    assert page_errors == []


def publish_pipeline_camera_status(camera_id: int) -> None:
    """``camera.status`` as the pipeline sends it: with ``analysis``, ``analysis_reason``
    and each analysis' health."""
    from monitoring.pipeline import on_camera_health

    camera = Camera.objects.get(pk=camera_id)
    camera.health, camera.health_reason = "online", "steady picture"
    camera.save(update_fields=["health", "health_reason"])
    on_camera_health(camera)


def test_a_failing_analysis_stays_on_its_tile_while_frames_and_status_events_arrive(
    demo, asgi_live_server, page, page_errors
):
    camera, rule = demo["camera"], demo["rule"]
    on_server(asgi_live_server, make_analyses_ok, camera.pk)
    open_live_wall(page, asgi_live_server.url, "operator")
    tile = page.locator(f"#camera-{camera.pk}")
    banner = tile.locator("[data-role=analysis]")

    on_server(asgi_live_server, make_analysis_fail, camera.pk, "quota used up")
    banner.wait_for()

    # A frame analysed by the camera's other analyses says nothing of this one's health:
    # the banner stays.
    t = moment_with_an_intruder(get_scene(camera.source_url))
    frame_id, _alert_id = on_server(asgi_live_server, analyse_demo_frame, camera.pk, rule.pk, t)
    page.wait_for_selector(f'#camera-{camera.pk}[data-frame="{frame_id}"]')
    page.wait_for_function(
        "tile => !!tile.querySelector('[data-role=frame]').getAttribute('src')",
        arg=tile.element_handle(),
    )
    assert banner.is_visible() and "quota used up" in banner.inner_text()
    assert "analysis-unavailable" in tile.get_attribute("class")

    # The pipeline's camera.status (capture health, and the analyses unavailable) keeps it.
    on_server(asgi_live_server, publish_pipeline_camera_status, camera.pk)
    page.wait_for_selector(f"#camera-{camera.pk} [data-role=reason]:has-text('steady picture')")
    assert banner.is_visible() and "quota used up" in banner.inner_text()

    on_server(asgi_live_server, make_analyses_ok, camera.pk)
    banner.wait_for(state="hidden")
    assert "analysis-unavailable" not in tile.get_attribute("class")
    assert page_errors == []
