"""The rules page in a real browser: an admin of the demo site adds rules to a demo
camera through the form, which shows the parameters of the chosen kind only."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from alerts.models import Rule
from cameras.demo_data import DEMO_CAMERAS, FENCE_NAME, add_demo_cameras
from cameras.models import Camera, Site
from monitoring.management.commands.demo import DEMO_SITE
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = pytest.mark.timeout(120)

GATE_CAMERA = DEMO_CAMERAS[0][0]


def keep_screenshot(page, tmp_path: Path, name: str) -> None:
    # A focused input (a time field) may keep its pop-up across a full-page screenshot,
    # and swallow the next click.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    folder = os.environ.get("E2E_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / name)


@pytest.fixture
def gate(asgi_live_server) -> Camera:
    """The demo site's gate camera, with its no-entry fence."""
    call_command("demo", password=PASSWORD, stdout=io.StringIO())
    site = Site.objects.get(name=DEMO_SITE)
    add_demo_cameras(site, io.StringIO())
    return Camera.objects.get(site=site, name=GATE_CAMERA)


def open_new_rule_form(page, base_url: str, camera: Camera) -> None:
    login(page, base_url, "admin")
    page.goto("/alerts/rules/")
    page.locator(f"#camera-{camera.pk}").get_by_role("link", name="Add a rule").click()
    page.wait_for_selector("#rule-form[data-ready=true]")


def test_an_admin_creates_a_fence_rule_through_the_page(
    gate, asgi_live_server, page, page_errors, tmp_path
):
    fence = gate.regions.get(name=FENCE_NAME)
    open_new_rule_form(page, asgi_live_server.url, gate)

    page.fill("#id_name", "Nobody past the gate after hours")
    page.select_option("#id_kind", "crowd")
    assert page.locator('[data-param="limit"]').is_visible()
    assert page.locator('[data-param="allowed_colours"]').is_hidden()
    page.select_option("#id_kind", "fence_intrusion")
    assert page.locator('[data-param="limit"]').is_hidden()
    assert page.locator("#no-params").is_visible()
    assert "feet inside the region" in page.locator("#kind-help").inner_text()
    assert page.locator("#id_region option").all_inner_texts() == [
        "The whole picture",
        f"{FENCE_NAME} (fence (no entry))",
    ]
    page.select_option("#id_region", str(fence.pk))
    page.select_option("#id_severity", "critical")
    page.uncheck("#id_active_days_5")
    page.uncheck("#id_active_days_6")
    page.fill("#id_active_start", "18:00")
    page.fill("#id_active_end", "06:00")
    page.fill("#id_min_confidence", "0.6")
    page.fill("#id_consecutive_frames", "2")
    keep_screenshot(page, tmp_path, "rule-form-fence.png")
    with page.expect_navigation():
        page.click("#rule-save")

    assert page.url.endswith(f"/alerts/rules/#camera-{gate.pk}")
    row = page.locator(f"#camera-{gate.pk} tr", has_text="Nobody past the gate after hours")
    assert row.count() == 1
    assert FENCE_NAME in row.inner_text()
    assert "18:00–06:00" in row.inner_text()
    assert "added" in page.locator(".messages").inner_text()
    keep_screenshot(page, tmp_path, "rules-page.png")
    rule = Rule.objects.get(name="Nobody past the gate after hours")
    assert (rule.camera, rule.region, rule.kind, rule.severity) == (
        gate,
        fence,
        "fence_intrusion",
        "critical",
    )
    assert rule.active_days == [0, 1, 2, 3, 4]
    assert (rule.min_confidence, rule.consecutive_frames) == (0.6, 2)
    assert rule.params == {}
    assert page_errors == []


def test_a_crowd_rule_is_refused_without_its_limit_and_saved_with_it(
    gate, asgi_live_server, page, page_errors
):
    open_new_rule_form(page, asgi_live_server.url, gate)
    page.fill("#id_name", "Crowd at the gate")
    page.select_option("#id_kind", "crowd")

    with page.expect_navigation():
        page.click("#rule-save")

    assert "Is required for this kind of rule." in page.locator('[data-param="limit"]').inner_text()
    assert page.locator('[data-param="limit"]').is_visible()
    assert not Rule.objects.filter(name="Crowd at the gate").exists()

    page.fill("#id_param_limit", "6")
    with page.expect_navigation():
        page.click("#rule-save")

    assert Rule.objects.get(name="Crowd at the gate").params == {"limit": 6}
    assert page_errors == []
