"""The first hour of each role in a real browser, on the demo as `make run` makes it:
finance reads last month's bill, switches month and exports it; an operator whose browser
is in another time zone reads the site's times on the live wall and the alert page alike;
and the README's screenshots (live wall, fence editor, alert evidence, a bill), written to
``docs/screenshots/`` when ``SCREENSHOTS=1``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from openpyxl import load_workbook
from PIL import Image

from alerts.models import Alert, Rule
from billing.demo_data import BAIDU_ACCOUNT
from cameras.demo_data import DEMO_CAMERAS
from cameras.frames import store_frame
from cameras.models import Camera, Site
from cameras.sources.demo import get_scene
from monitoring.management.commands.demo import DEMO_SITE
from monitoring.models import VendorAccount
from tests.conftest import PASSWORD
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, login
from tests.e2e.test_live_wall import analyse_demo_frame, moment_with_an_intruder, on_server

pytestmark = pytest.mark.timeout(240)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
BROWSER_ZONE = "America/New_York"


def readme_screenshot(page, name: str) -> None:
    """With ``SCREENSHOTS=1``, the visible page as ``docs/screenshots/<name>``: 1,000 px
    wide, 256 colours, so the README's pictures stay small."""
    if os.environ.get("SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    picture = Image.open(io.BytesIO(page.screenshot()))
    picture = picture.resize((1000, round(picture.height * 1000 / picture.width)), Image.LANCZOS)
    picture = picture.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    picture.save(SCREENSHOTS / name, optimize=True)


@pytest.fixture
def demo(asgi_live_server, settings, tmp_path):
    """The demo as `make run` makes it (users, cameras, analyses, finance history)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("demo", password=PASSWORD, stdout=io.StringIO())
    site = Site.objects.get(name=DEMO_SITE)
    camera = Camera.objects.get(site=site, name=DEMO_CAMERAS[0][0])
    return {"site": site, "camera": camera}


def open_alert(server, camera) -> Alert:
    """A fence intrusion on the demo gate camera, raised as the pipeline raises it."""
    rule = Rule.objects.get(camera=camera, kind="fence_intrusion")
    rule.cooldown_seconds = 0
    rule.consecutive_frames = 1
    rule.save()
    t = moment_with_an_intruder(get_scene(camera.source_url))
    _frame, alert_id = on_server(server, analyse_demo_frame, camera.pk, rule.pk, t)
    assert alert_id is not None
    return Alert.objects.get(pk=alert_id)


def previous_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year - 1}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"


def test_finance_opens_last_months_bill_switches_month_and_exports_pdf_and_xlsx(
    demo, asgi_live_server, page, page_errors, tmp_path
):
    # Given finance, signed in: they land on the billing page, which lists the sandbox accounts
    login(page, asgi_live_server.url, "finance", PASSWORD)
    assert page.url.endswith("/billing/")
    assert "sandbox" in page.locator("main").inner_text()

    # When they open the Baidu sandbox account's bill and step back to last month
    page.get_by_role("link", name=BAIDU_ACCOUNT).first.click()
    page.wait_for_selector("#usage-lines")
    this_month = page.locator("#month-input").input_value()
    last = previous_month(this_month)
    with page.expect_navigation():
        page.locator("a[rel=prev]").click()
    assert page.locator("#month-input").input_value() == last

    # Then last month's bill has tier lines, the package, the QPS order and a total
    assert page.locator("#usage-lines tr.tier").count() > 0
    purchases = page.locator("#purchase-lines")
    assert purchases.locator("tr[data-kind=package_purchase]").count() == 1
    assert purchases.locator("tr[data-kind=qps_order]").count() == 1
    total = page.locator("#totals tr.grand-total td").inner_text()
    assert float(total.replace(",", "")) > 0
    assert "seed" not in page.locator("main").inner_text()
    readme_screenshot(page, "bill.png")

    # When they pick another month with the month field, the page follows
    older = previous_month(last)
    with page.expect_navigation():
        page.fill("#month-input", older)
        page.locator("form.month-picker button[type=submit]").click()
    assert f"month={older}" in page.url
    assert page.locator("#month-input").input_value() == older

    # And back to last month, then export it as PDF and Excel
    page.goto(page.url.replace(f"month={older}", f"month={last}"))
    with page.expect_download() as pdf_download:
        page.locator(".export-links a", has_text="PDF").click()
    pdf = Path(pdf_download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert last in pdf_download.value.suggested_filename
    with page.expect_download() as xlsx_download:
        page.locator(".export-links a", has_text="Excel").click()
    sheet = load_workbook(io.BytesIO(Path(xlsx_download.value.path()).read_bytes())).active
    cells = [str(cell) for row in sheet.iter_rows(values_only=True) for cell in row if cell]
    assert any("sandbox" in cell for cell in cells)
    assert any(last in cell for cell in cells)
    assert page_errors == []


def test_a_browser_in_another_zone_reads_the_sites_times_on_the_live_wall_and_the_alert_page(
    demo, asgi_live_server, browser, page_errors, tmp_path
):
    server = asgi_live_server
    site, camera = demo["site"], demo["camera"]
    assert site.time_zone == "Asia/Shanghai"
    context = browser.new_context(
        base_url=server.url,
        locale="en-US",
        timezone_id=BROWSER_ZONE,
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(f"uncaught: {error}"))
    try:
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == BROWSER_ZONE
        for each in Camera.objects.filter(site=site):
            store_frame(each, get_scene(each.source_url).jpeg(5.0), each.created_at)
        alert = open_alert(server, camera)
        opened = alert.opened_at.astimezone(ZoneInfo(site.time_zone))
        browser_time = alert.opened_at.astimezone(ZoneInfo(BROWSER_ZONE)).strftime("%H:%M:%S")
        assert opened.strftime("%H:%M:%S") != browser_time

        # The live wall writes the alert's time in the site's zone, and says which zone
        login(page, server.url, "operator", PASSWORD)
        page.wait_for_selector("#live[data-ready=true]")
        item = page.locator(f'#feed .alert-item[data-alert="{alert.pk}"]')
        item.wait_for()
        wall_time = item.locator("time.alert-opened").inner_text()
        assert opened.strftime("%H:%M:%S") in wall_time
        assert browser_time not in wall_time
        assert "Asia/Shanghai" in page.locator("[data-role=time-zone]").inner_text()
        page.wait_for_function(
            "[...document.querySelectorAll('#live [data-role=frame]')]"
            ".every(image => image.complete)"
        )
        readme_screenshot(page, "live-wall.png")

        # And the alert's page says the same time
        item.locator("a.alert-title").click()
        page.wait_for_selector("#alert-stage[data-ready=true]")
        page.wait_for_function("document.getElementById('evidence-image').naturalWidth > 0")
        detail = page.locator("main").inner_text()
        assert opened.strftime("%Y-%m-%d %H:%M:%S") in detail
        assert browser_time not in detail
        readme_screenshot(page, "alert-evidence.png")
    finally:
        context.close()
    assert page_errors == []


def test_the_admin_sees_the_first_steps_and_the_fence_editor_of_a_demo_camera(
    demo, asgi_live_server, page, page_errors
):
    camera = demo["camera"]
    store_frame(camera, get_scene(camera.source_url).jpeg(3.0), camera.created_at)
    login(page, asgi_live_server.url, "admin", PASSWORD)
    checklist = page.locator("[data-role=checklist]")
    assert checklist.locator("li[data-done=false]").count() == 5
    assert VendorAccount.objects.filter(name=BAIDU_ACCOUNT).exists()

    page.goto(f"/cameras/{camera.pk}/regions/")
    page.wait_for_function("document.getElementById('fence-frame').naturalWidth > 0")
    assert "No-entry area" in page.locator("main").inner_text()
    readme_screenshot(page, "fence-editor.png")
    assert page_errors == []
