"""In Chromium: the camera page shows each analysis' health, and an admin's resume
button lifts the vendor's stop that holds one back."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cameras import roles
from cameras.models import CameraAnalysis
from monitoring import vendor_stops
from monitoring.analysis_models import AnalysisState
from monitoring.backends.stops import LIFT_RESUME, REFUSED, SCOPE_API, StopRule
from tests.e2e.conftest import login
from tests.factories import BaiduAccountFactory, CameraFactory, SiteFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def stopped(asgi_live_server):
    """A camera with a Baidu analysis whose API the vendor's total limit (19) stops."""
    site = SiteFactory(name="Plant")
    camera = CameraFactory(
        site=site, name="Gate", source_kind="demo", source_url="demo://site-gate"
    )
    account = BaiduAccountFactory(name="Baidu plant")
    analysis = CameraAnalysis.objects.create(
        camera=camera, api="body_attr", account=account, interval=10
    )
    vendor_stops.record(
        account,
        "body_attr",
        StopRule(SCOPE_API, REFUSED, LIFT_RESUME, "total_limit"),
        code="19",
        message="Open api total request limit reached",
        now=timezone.now(),
    )
    return camera, analysis


def test_the_camera_page_shows_the_refusal_and_the_resume_button_lifts_it(
    stopped, asgi_live_server, page, page_errors, make_user
):
    camera, analysis = stopped
    make_user(roles.ADMIN, camera.site, username="plant-admin")
    login(page, asgi_live_server.url, "plant-admin")
    page.goto(f"/cameras/{camera.pk}/")

    cell = page.locator(f'td.analysis-health[data-analysis="{analysis.pk}"]')
    assert cell.get_attribute("data-state") == "refused"
    assert "total limit" in cell.inner_text()

    cell.get_by_role("button", name="Resume").click()
    page.wait_for_url(f"**/cameras/{camera.pk}/")

    cell = page.locator(f'td.analysis-health[data-analysis="{analysis.pk}"]')
    assert cell.get_attribute("data-state") == "waiting"
    assert cell.get_by_role("button", name="Resume").count() == 0
    assert "Analysis body_attr resumed." in page.locator(".messages").inner_text()
    assert AnalysisState.objects.get(analysis=analysis).health == "waiting"
    assert page_errors == []
