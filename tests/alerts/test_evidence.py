"""Evidence pictures: regions in their kind's colour, detected boxes, and the boxes that
broke the rule in red, on the frame, as a JPEG of the frame's size."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from alerts.evidence import (
    OFFENDING_COLOUR,
    OverlayBox,
    OverlayRegion,
    overlay_boxes,
    render_for_frame,
    render_overlay,
)
from alerts.rules import Finding
from cameras.polygons import KIND_COLOURS
from monitoring.backends.base import AnalysisResult, Box, DetectedObject, Person

from .conftest import HEIGHT, INTRUDER, PASSER_BY, WIDTH, jpeg

PPE_IMAGES = Path(__file__).resolve().parents[3] / "shared" / "data" / "ppe-sample" / "images"


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))


def close_to(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def near(picture, x, y, colour, tolerance=60) -> bool:
    """Whether a pixel around (x, y) has ``colour``: JPEG blurs thin lines a little."""
    return any(
        close_to(picture.getpixel((x + dx, y + dy)), colour, tolerance)
        for dx in (-1, 0, 1)
        for dy in (-1, 0, 1)
    )


def decode(data: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(data))
    assert picture.format == "JPEG"
    return picture.convert("RGB")


def test_the_overlay_draws_offending_boxes_in_red_and_regions_in_their_colour():
    fence = OverlayRegion(points=[[50, 50], [600, 50], [600, 340], [50, 340]], kind="fence")
    boxes = [
        OverlayBox(200, 120, 80, 200, "person inside fence", 0.91, offending=True),
        OverlayBox(400, 100, 60, 150, "person", 0.8),
    ]

    picture = decode(render_overlay(jpeg(colour=(255, 255, 255)), regions=[fence], boxes=boxes))

    assert picture.size == (WIDTH, HEIGHT)
    # The left edge of the offending box, below its label, is red.
    assert close_to(picture.getpixel((200, 250)), rgb(OFFENDING_COLOUR))
    # The other box is not.
    assert not close_to(picture.getpixel((400, 200)), rgb(OFFENDING_COLOUR))
    assert picture.getpixel((400, 200)) != (255, 255, 255)
    # The fence's bottom edge is in the fence colour; inside, a light tint of it.
    assert near(picture, 300, 340, rgb(KIND_COLOURS["fence"]))
    inside = picture.getpixel((100, 300))
    assert inside != (255, 255, 255)
    assert inside[0] > inside[2]  # reddish tint


def test_a_caption_is_written_on_a_dark_banner():
    picture = decode(render_overlay(jpeg(colour=(255, 255, 255)), caption="No entry: 1 person"))

    assert sum(picture.getpixel((2, 2))) < 300
    assert picture.getpixel((WIDTH - 5, HEIGHT - 5)) == pytest.approx((255, 255, 255), abs=3)


def test_findings_mark_the_detected_boxes_they_match_and_stand_alone_otherwise():
    found = [
        AnalysisResult(
            vendor="baidu",
            api="body_attr",
            persons=[Person(box=INTRUDER, score=0.9), Person(box=PASSER_BY, score=0.8)],
            objects=[DetectedObject(label="helmet", box=Box(300, 10, 20, 20), score=0.6)],
        )
    ]
    findings = [
        Finding("no helmet", 0.77, Box(201, 121, 80, 199)),
        Finding("workwear red", 0.66, Box(500, 200, 40, 60)),
        Finding("fall", 0.9, None),
    ]

    boxes = overlay_boxes(found, findings)

    by_label = {box.label: box for box in boxes}
    assert by_label["no helmet"].offending is True
    assert (by_label["no helmet"].left, by_label["no helmet"].score) == (200, 0.77)
    assert by_label["person"].offending is False
    assert by_label["helmet"].offending is False
    assert by_label["workwear red"].offending is True
    assert len(boxes) == 4


def test_boxes_analysed_at_another_size_are_scaled_to_the_frame():
    half = AnalysisResult(
        vendor="ctyun",
        api="helmet",
        frame_width=WIDTH // 2,
        frame_height=HEIGHT // 2,
        objects=[DetectedObject(label="red_hat", box=Box(10, 20, 30, 40), score=0.9)],
    )

    (box,) = overlay_boxes([half], [], (WIDTH, HEIGHT))

    assert (box.left, box.top, box.width, box.height) == (20, 40, 60, 80)


@pytest.mark.django_db
def test_the_evidence_of_a_stored_frame_keeps_its_size(camera, region, make_frame):
    frame = make_frame(camera)

    data = render_for_frame(
        frame,
        results=[AnalysisResult(vendor="baidu", api="body_attr", persons=[Person(INTRUDER, 0.9)])],
        findings=[Finding("person inside fence", 0.9, INTRUDER)],
        regions=[region],
        caption="No entry: 1 person",
    )

    assert decode(data).size == (WIDTH, HEIGHT)


def test_a_real_site_photo_gets_an_overlay():
    photos = sorted(PPE_IMAGES.glob("*.jpg"))
    if not photos:
        pytest.skip(f"no ppe-sample photos at {PPE_IMAGES}")
    original = Image.open(photos[0])
    width, height = original.size
    box = OverlayBox(width * 0.25, height * 0.25, width * 0.2, height * 0.4, "no helmet", 0.8, True)

    picture = decode(render_overlay(photos[0].read_bytes(), boxes=[box], caption="no helmet"))

    assert picture.size == (width, height)
    left = round(width * 0.25)
    assert close_to(picture.getpixel((left, round(height * 0.5))), rgb(OFFENDING_COLOUR), 60)


@pytest.mark.django_db
def test_the_hand_points_of_a_finding_are_drawn_as_red_dots(camera, region, make_frame):
    # Given a frame where a hand was found in a danger zone at two points
    frame = make_frame(camera)
    hand = Box(420, 200, 80, 100)
    finding = Finding("hand in danger zone", 0.9, hand, points=((450.0, 250.0), (470.0, 280.0)))

    # When its evidence is drawn
    data = render_for_frame(
        frame,
        results=[AnalysisResult(vendor="baidu", api="fingertip")],
        findings=[finding],
        regions=[region],
    )

    # Then each point is a red dot, and the inside of the hand's box away from them is not
    picture = decode(data)
    assert close_to(picture.getpixel((450, 250)), rgb(OFFENDING_COLOUR))
    assert close_to(picture.getpixel((470, 280)), rgb(OFFENDING_COLOUR))
    assert not close_to(picture.getpixel((490, 220)), rgb(OFFENDING_COLOUR))
