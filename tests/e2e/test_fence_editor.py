"""The fence editor in a real browser: an admin of the demo site draws, checks, saves and
edits regions on a camera's latest frame, by mouse, keyboard and touch."""

from __future__ import annotations

import io
import json
import random

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone, translation
from PIL import Image, ImageDraw

from cameras.models import Camera, CameraAnalysis, Frame, Region, Site, SourceKind
from cameras.polygons import limits_for_camera, region_errors
from monitoring.management.commands.demo import DEMO_SITE
from tests.conftest import PASSWORD
from tests.e2e.conftest import login
from tests.factories import BaiduAccountFactory, CameraFactory, CtyunAccountFactory

pytestmark = pytest.mark.timeout(120)

WIDTH, HEIGHT = 1280, 720
FENCE = [[200, 150], [1000, 150], [1000, 600], [200, 600]]
BOW_TIE = [[200, 150], [1000, 600], [1000, 150], [200, 600]]


def site_picture(width: int, height: int) -> bytes:
    """A JPEG that looks like a yard: sky, ground, a shed and a path."""
    picture = Image.new("RGB", (width, height), (150, 180, 205))
    draw = ImageDraw.Draw(picture)
    draw.rectangle([0, height * 0.45, width, height], fill=(120, 112, 96))
    draw.rectangle([width * 0.1, height * 0.25, width * 0.35, height * 0.55], fill=(170, 70, 50))
    draw.polygon(
        [
            (width * 0.45, height),
            (width * 0.55, height * 0.45),
            (width * 0.6, height * 0.45),
            (width * 0.75, height),
        ],
        fill=(190, 185, 170),
    )
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.fixture
def demo_site(asgi_live_server) -> Site:
    """The demo site and its users (admin, operator, finance), password ``PASSWORD``."""
    call_command("demo", password=PASSWORD, stdout=io.StringIO())
    return Site.objects.get(name=DEMO_SITE)


@pytest.fixture
def camera(demo_site, settings, tmp_path) -> Camera:
    """A camera of the demo site with one stored frame."""
    settings.MEDIA_ROOT = tmp_path / "media"
    camera = CameraFactory(
        site=demo_site,
        name="Yard gate",
        source_kind=SourceKind.DEMO,
        source_url="yard",
        width=WIDTH,
        height=HEIGHT,
    )
    data = site_picture(WIDTH, HEIGHT)
    Frame.objects.create(
        camera=camera,
        captured_at=timezone.now(),
        image=ContentFile(data, name="frame.jpg"),
        width=WIDTH,
        height=HEIGHT,
        size=len(data),
    )
    return camera


class Editor:
    """The fence editor page, driven as a person would: by clicking where things are."""

    def __init__(self, page, camera: Camera):
        self.page = page
        self.camera = camera
        self.frame_size = (camera.width or WIDTH, camera.height or HEIGHT)

    def open(self) -> Editor:
        self.page.goto(f"/cameras/{self.camera.pk}/regions/")
        self.page.wait_for_selector("#fence-editor[data-ready=true]")
        if self.page.locator("#fence-frame").count():
            self.page.wait_for_function("document.getElementById('fence-frame').naturalWidth > 0")
        return self

    def at(self, x: float, y: float) -> tuple[float, float]:
        """Where frame pixel (x, y) is on the screen."""
        box = self.page.locator("#fence-canvas").bounding_box()
        width, height = self.frame_size
        return (
            box["x"] + (x + 0.5) * box["width"] / width,
            box["y"] + (y + 0.5) * box["height"] / height,
        )

    def click(self, x: float, y: float) -> None:
        self.page.mouse.click(*self.at(x, y))

    def draw(self, points, close_by_clicking_the_first_point: bool = True) -> None:
        for x, y in points:
            self.click(x, y)
        if close_by_clicking_the_first_point:
            self.click(*points[0])
        else:
            self.page.click("#region-close")

    def drag(self, start, end) -> None:
        mouse = self.page.mouse
        mouse.move(*self.at(*start))
        mouse.down()
        mouse.move(*self.at(*end), steps=8)
        mouse.up()

    def points(self) -> list[list[float]]:
        return json.loads(self.page.get_attribute("#fence-editor", "data-points"))

    def closed(self) -> bool:
        return self.page.get_attribute("#fence-editor", "data-closed") == "true"

    def save_as(self, name: str, kind: str = "fence") -> None:
        self.page.fill("#region-name", name)
        self.page.select_option("#region-kind", kind)
        self.page.click("#region-save")

    def wait_until_saved(self, name: str) -> None:
        self.page.wait_for_function(
            "text => document.getElementById('region-status').textContent.includes(text)",
            arg=name,
        )

    def error(self) -> str:
        box = self.page.locator("#region-error")
        box.wait_for(state="visible")
        return box.inner_text()


@pytest.fixture
def editor(page, asgi_live_server, camera) -> Editor:
    login(page, asgi_live_server.url, "admin")
    return Editor(page, camera).open()


def test_an_admin_draws_a_fence_saves_it_and_finds_it_after_reloading(
    editor, page, camera, page_errors, tmp_path
):
    # Given the admin on the regions page of a camera with a frame
    assert page.locator("#no-frame").count() == 0

    # When they draw four points, close the outline on the first one, name it and save
    editor.draw(FENCE)
    assert editor.closed()
    assert editor.points() == FENCE
    page.screenshot(path=str(tmp_path / "fence-editor.png"))
    editor.save_as("North gate", "fence")
    editor.wait_until_saved("North gate")

    # Then the region is stored as drawn, in pixels of the camera's frame
    region = Region.objects.get(camera=camera, name="North gate")
    assert (region.kind, region.points) == ("fence", FENCE)
    assert (region.frame_width, region.frame_height) == (WIDTH, HEIGHT)
    listed = page.request.get(f"/api/regions/?camera={camera.pk}").json()["results"]
    assert [(item["name"], item["points"]) for item in listed] == [("North gate", FENCE)]

    # And after a reload the page lists it, and it opens with its points
    page.reload()
    page.wait_for_selector("#fence-editor[data-ready=true]")
    entry = page.locator(f"#region-list [data-region-id='{region.pk}']")
    assert "North gate" in entry.inner_text()
    entry.locator("button").click()
    assert editor.points() == FENCE
    assert page.locator("#region-name").input_value() == "North gate"
    assert page_errors == []


def test_a_bow_tie_is_refused_in_the_browser_with_its_reason_and_nothing_is_sent(
    editor, page, camera
):
    sent = []
    page.on(
        "request",
        lambda request: sent.append(request.method) if "/api/regions/" in request.url else None,
    )

    editor.draw(BOW_TIE, close_by_clicking_the_first_point=False)
    editor.save_as("Crossed", "fence")

    reason = editor.error()
    assert "crosses itself" in reason
    assert "point 1 to 2" in reason and "point 3 to 4" in reason
    assert page.locator("#region-error").get_attribute("role") == "alert"
    assert sent == []
    assert not Region.objects.filter(camera=camera).exists()


def test_dragging_a_point_moves_it_and_undo_takes_back_each_edit(editor, page):
    editor.draw(FENCE)

    editor.drag(FENCE[1], (1100, 250))
    assert editor.points() == [FENCE[0], [1100, 250], FENCE[2], FENCE[3]]

    page.locator("#fence-canvas").focus()
    page.keyboard.press("Control+z")
    assert editor.points() == FENCE
    assert editor.closed()

    page.click("#region-undo")  # the closing
    assert not editor.closed()
    page.click("#region-undo")  # the fourth point
    assert editor.points() == FENCE[:3]


def test_a_click_on_an_edge_inserts_a_point_and_delete_removes_the_selected_one(editor, page):
    editor.draw(FENCE)

    editor.click(600, 150)
    assert editor.points() == [FENCE[0], [600, 150], *FENCE[1:]]

    page.keyboard.press("Delete")
    assert editor.points() == FENCE

    editor.click(*FENCE[2])
    page.click("#region-delete-point")
    assert editor.points() == [FENCE[0], FENCE[1], FENCE[3]]


def test_the_servers_refusal_is_shown_next_to_the_drawing(editor, page, camera):
    # Given a region of that name saved meanwhile, by someone else
    Region.objects.create(
        camera=camera,
        name="North gate",
        kind="zone",
        points=FENCE,
        frame_width=WIDTH,
        frame_height=HEIGHT,
    )

    editor.draw([[300, 300], [500, 300], [400, 450]])
    editor.save_as("North gate", "fence")

    assert "already has a region named" in editor.error()
    assert Region.objects.filter(camera=camera).count() == 1


def test_a_vendors_limit_is_checked_before_saving(editor, page, camera):
    # Given the camera runs CTYun's electronic fence, which takes 3 to 9 points
    account = CtyunAccountFactory(name="CTYun, yard gate")
    CameraAnalysis.objects.create(camera=camera, api="fence", account=account)
    editor.open()
    assert "3 to 9 points" in page.locator("#region-rules").inner_text()

    ten = [[100 + 100 * i, 100 + (60 if i % 2 else 0)] for i in range(9)] + [[500, 500]]
    editor.draw(ten)
    editor.save_as("Too detailed", "fence")

    assert "takes 3 to 9 points; this region has 10" in editor.error()
    assert not Region.objects.filter(camera=camera).exists()


def test_editing_a_saved_region_patches_it(editor, page, camera):
    region = Region.objects.create(
        camera=camera,
        name="Stack",
        kind="helmet",
        points=FENCE,
        frame_width=WIDTH,
        frame_height=HEIGHT,
    )
    editor.open()

    editor.click(600, 400)  # inside the region
    assert page.get_attribute("#fence-editor", "data-region-id") == str(region.pk)
    editor.drag(FENCE[2], (1100, 650))
    page.click("#region-save")
    editor.wait_until_saved("Stack")

    region.refresh_from_db()
    assert region.points == [FENCE[0], FENCE[1], [1100, 650], FENCE[3]]
    assert region.kind == "helmet"


def test_deleting_a_region_asks_first(editor, page, camera):
    region = Region.objects.create(
        camera=camera,
        name="Old zone",
        kind="zone",
        points=FENCE,
        frame_width=WIDTH,
        frame_height=HEIGHT,
    )
    editor.open()
    page.locator(f"#region-list [data-region-id='{region.pk}'] button").click()

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#region-delete")
    editor.wait_until_saved("Old zone")

    assert not Region.objects.filter(pk=region.pk).exists()
    assert page.locator(f"#region-list [data-region-id='{region.pk}']").count() == 0


def test_without_a_frame_a_blank_frame_of_the_default_size_can_be_drawn_on(
    page, asgi_live_server, demo_site
):
    camera = CameraFactory(
        site=demo_site, name="New camera", source_kind=SourceKind.DEMO, source_url="yard"
    )
    login(page, asgi_live_server.url, "admin")
    editor = Editor(page, camera).open()
    assert page.locator("#no-frame").is_visible()
    assert page.locator("#fence-frame").count() == 0
    box = page.locator("#fence-canvas").bounding_box()
    assert box["width"] / box["height"] == pytest.approx(1280 / 720, rel=0.01)

    editor.draw([[100, 100], [700, 120], [400, 500]])
    editor.save_as("First zone", "zone")
    editor.wait_until_saved("First zone")

    region = Region.objects.get(camera=camera)
    assert (region.frame_width, region.frame_height) == (1280, 720)
    assert region.points == [[100, 100], [700, 120], [400, 500]]


def test_touch_taps_draw_a_region(browser, asgi_live_server, camera):
    context = browser.new_context(
        base_url=asgi_live_server.url,
        locale="en-US",
        viewport={"width": 800, "height": 1000},
        has_touch=True,
        is_mobile=True,
    )
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        login(page, asgi_live_server.url, "admin")
        editor = Editor(page, camera).open()
        for x, y in FENCE[:3]:
            page.touchscreen.tap(*editor.at(x, y))
        page.tap("#region-close")
        assert editor.closed()
        assert editor.points() == FENCE[:3]
    finally:
        context.close()


def test_the_browsers_checks_agree_with_the_servers(page, camera):
    """The same polygons, checked by the editor's module and by ``cameras.polygons``, on a
    camera whose analyses bring every vendor limit: the same verdict, with the same reason,
    for shapes crowded with edge cases (points on the frame's edge and outside it, repeated
    points, collinear edges, edges turning back, crossings, too many points)."""
    baidu = BaiduAccountFactory(name="Baidu, yard gate")
    ctyun = CtyunAccountFactory(name="CTYun, yard gate")
    for api, account in [("fence", ctyun), ("body_num", baidu), ("body_tracking", baidu)]:
        CameraAnalysis.objects.create(camera=camera, api=api, account=account)
    limits = {kind: limit.as_dict() for kind, limit in limits_for_camera(camera).items()}
    rng = random.Random(20251122)
    side = 11
    polygons = []
    for _ in range(400):
        low, high = (0, 6) if rng.random() < 0.8 else (-1, side)
        count = rng.choice([3, 3, 4, 4, 5, 6, 10])
        polygons.append([[rng.randint(low, high), rng.randint(low, high)] for _ in range(count)])
    polygons += [
        [[0, 0], [1, 1], [2, 0], [3, 1], [4, 0], [5, 1], [6, 0], [7, 1], [8, 0], [5, 8]],
        [[2, 2], [8, 2], [8, 8], [2, 8]],
        [[2, 2], [10, 2], [10, 8], [2, 8]],
        [[0, 2], [8, 2], [8, 8], [0, 8]],
        [[1, 1], [9, 1], [5, 9]],
    ]
    kinds = ["zone", "fence", "crowd", "flow"]

    page.goto("/accounts/login/")
    in_browser = page.evaluate(
        """async ([polygons, kinds, side, limits]) => {
            const editor = await import("/static/js/fence/checks.js");
            return kinds.map((kind) => polygons.map((points) => {
                const region = {id: null, name: "x", kind, points,
                                frameWidth: side, frameHeight: side};
                const problem = editor.regionProblem(region, [], limits);
                return problem && problem.message;
            }));
        }""",
        [polygons, kinds, side, limits],
    )

    # The page runs in English (the browser context's language): compare in English.
    with translation.override("en"):
        on_server = [
            [
                region_errors(camera, kind=kind, points=points, width=side, height=side).get(
                    "points"
                )
                for points in polygons
            ]
            for kind in kinds
        ]
    for kind, browser_reasons, server_reasons in zip(kinds, in_browser, on_server, strict=True):
        disagreements = [
            (points, mine, theirs)
            for points, mine, theirs in zip(polygons, browser_reasons, server_reasons, strict=True)
            if mine != theirs
        ]
        assert not disagreements, f"{kind}: {disagreements[:3]}"
    reasons = {reason.split(" ")[1] if reason else "ok" for reason in on_server[3]}
    assert len(reasons) > 4, reasons
