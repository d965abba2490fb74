"""The demo scene: deterministic pictures, ground truth consistent with them, and
workers the on-box analyzer can see."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from cameras.sources import SourceError, open_source
from cameras.sources.demo import SCENES, DemoSource, get_scene
from monitoring.backends.base import Box
from monitoring.backends.local import LocalAnalyzer
from monitoring.lib.geometry import point_in_polygon

pytestmark = pytest.mark.timeout(120)

# A minute of scene time sampled every 2.5 s, and then some moments later on.
MOMENTS = [index * 2.5 for index in range(24)] + [97.0, 133.3, 251.0, 412.7]


def iou(a: Box, b: Box) -> float:
    width = min(a.right, b.right) - max(a.left, b.left)
    height = min(a.bottom, b.bottom) - max(a.top, b.top)
    inter = max(0.0, width) * max(0.0, height)
    return inter / (a.width * a.height + b.width * b.height - inter)


@pytest.mark.parametrize("name", sorted(SCENES))
def test_the_same_moment_renders_the_same_picture(name):
    scene = SCENES[name]

    assert scene.jpeg(42.5) == scene.jpeg(42.5)
    assert scene.ground_truth(42.5) == scene.ground_truth(42.5)


@pytest.mark.parametrize("name", sorted(SCENES))
def test_workers_move_as_time_passes(name):
    scene = SCENES[name]
    before = np.asarray(scene.render(10.0), dtype=np.int16)
    after = np.asarray(scene.render(11.0), dtype=np.int16)

    assert np.abs(before - after).max() > 100
    assert scene.ground_truth(10.0).persons != scene.ground_truth(11.0).persons


@pytest.mark.parametrize("name", sorted(SCENES))
def test_every_person_box_lies_inside_the_frame(name):
    scene = SCENES[name]
    width, height = scene.size
    for t in MOMENTS:
        truth = scene.ground_truth(t)
        assert truth.persons, f"no person at t={t}"
        for person in truth.persons:
            left, top, box_width, box_height = person.box
            assert left >= 0 and top >= 0, (t, person)
            assert left + box_width <= width and top + box_height <= height, (t, person)
            assert box_width > 0 and box_height > 0


@pytest.mark.parametrize("name", sorted(SCENES))
def test_the_fenced_area_flag_is_whether_the_foot_point_is_inside_the_fence(name):
    scene = SCENES[name]
    inside = outside = 0
    for t in [index * 1.5 for index in range(200)]:
        for person in scene.ground_truth(t).persons:
            assert person.in_fence == point_in_polygon(person.foot, scene.fence)
            inside += person.in_fence
            outside += not person.in_fence

    assert inside > 0, "nobody ever enters the fenced area"
    assert outside > inside


@pytest.mark.parametrize("name", sorted(SCENES))
def test_a_standing_persons_foot_point_is_the_bottom_of_their_box(name):
    scene = SCENES[name]
    for t in MOMENTS:
        for person in scene.ground_truth(t).persons:
            if person.fallen:
                continue
            left, top, width, height = person.box
            assert left <= person.foot[0] <= left + width
            assert person.foot[1] == pytest.approx(top + height, abs=0.15 * height)


def test_some_workers_wear_helmets_and_some_do_not():
    flags = {
        person.helmet
        for scene in SCENES.values()
        for t in MOMENTS
        for person in scene.ground_truth(t).persons
    }
    assert flags == {True, False}


def test_a_worker_of_the_scaffold_scene_falls_and_lies_wider_than_tall():
    scene = SCENES["scaffold"]
    fallen = [
        person
        for t in range(0, 180, 2)
        for person in scene.ground_truth(float(t)).persons
        if person.fallen
    ]

    assert fallen, "nobody fell in three minutes"
    assert all(person.box[2] > person.box[3] for person in fallen)


@pytest.mark.parametrize("name", sorted(SCENES))
def test_a_crowd_forms_now_and_then(name):
    scene = SCENES[name]
    crowded = [t for t in range(0, 300, 3) if scene.ground_truth(float(t)).crowd]

    assert crowded, "no crowd in five minutes"
    assert len(crowded) < 50, "the crowd never leaves"


@pytest.mark.parametrize("name", sorted(SCENES))
def test_the_picture_shows_someone_where_the_ground_truth_says(name):
    scene = SCENES[name]
    empty = np.asarray(scene.background(), dtype=np.int16)
    t = 20.0
    frame = np.asarray(scene.render(t), dtype=np.int16)
    for person in scene.ground_truth(t).persons:
        left, top, width, height = (round(value) for value in person.box)
        inside = np.abs(frame - empty)[top : top + height, left : left + width]
        assert inside.max(axis=2).mean() > 25, person
    changed = np.abs(frame - empty).max(axis=2) > 40
    for person in scene.ground_truth(t).persons:
        left, top, width, height = (round(value) for value in person.box)
        changed[max(0, top - 30) : top + height + 30, max(0, left - 40) : left + width + 60] = False
    assert changed.mean() < 0.002, "the picture changed outside the persons"


def test_the_ground_truth_is_written_beside_the_frame_as_json(tmp_path):
    scene = SCENES["site-gate"]

    image_path, truth_path = scene.write_sample(61.0, tmp_path)

    truth = json.loads(truth_path.read_text())
    assert image_path.parent == truth_path.parent == tmp_path
    assert image_path.stem == truth_path.stem
    assert Image.open(image_path).size == (truth["width"], truth["height"]) == scene.size
    assert truth["scene"] == "site-gate" and truth["t"] == 61.0
    assert truth["fence"] == [list(point) for point in scene.fence]
    assert {"worker", "box", "foot", "helmet", "in_fence", "fallen"} <= set(truth["persons"][0])


def test_the_local_analyzer_finds_the_workers_of_a_quiet_moment():
    scene = SCENES["site-gate"]
    t = 20.0
    truths = [Box(*person.box) for person in scene.ground_truth(t).persons]

    found = [person.box for person in LocalAnalyzer().analyze("persons", [scene.jpeg(t)]).persons]

    matched = [truth for truth in truths if any(iou(truth, box) >= 0.3 for box in found)]
    assert len(matched) >= len(truths) - 1, (truths, found)


def test_a_demo_camera_grabs_the_scene_at_the_time_of_the_grab():
    source = DemoSource(
        type("Settings", (), {"url": "demo://scaffold"})(), clock=lambda: 1_700_000_123.4
    )

    frame = source.grab()

    assert frame == SCENES["scaffold"].jpeg(1_700_000_123.4)
    assert source.last_truth == SCENES["scaffold"].ground_truth(1_700_000_123.4)


def test_a_demo_camera_opened_from_its_settings_gives_jpegs_of_the_scene_size():
    with open_source({"source_kind": "demo", "source_url": "demo://site-gate"}) as source:
        image = Image.open(io.BytesIO(source.grab()))

    assert (image.format, image.size) == ("JPEG", SCENES["site-gate"].size)


def test_scenes_are_found_by_url_or_name_and_an_unknown_one_is_refused():
    assert get_scene("demo://scaffold") is get_scene("scaffold") is SCENES["scaffold"]
    with pytest.raises(
        SourceError, match="no demo scene 'demo://moon'; there are scaffold, site-gate"
    ):
        open_source({"source_kind": "demo", "source_url": "demo://moon"})


@pytest.mark.parametrize("name", sorted(SCENES))
def test_each_scene_has_a_fence_polygon_inside_its_frame(name):
    scene = SCENES[name]
    width, height = scene.size

    assert len(scene.fence) >= 3
    assert all(0 <= x <= width and 0 <= y <= height for x, y in scene.fence)
