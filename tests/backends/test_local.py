"""The on-box analyzer (monitoring/backends/local/)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monitoring.backends.base import BadRequest, Box, InvalidImage, Unsupported
from monitoring.backends.local import (
    CentroidTracker,
    Detection,
    LocalAnalyzer,
    PersonDetector,
    suppress,
)

PPE = Path(__file__).resolve().parents[3] / "shared" / "data" / "ppe-sample"


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def blank(width: int = 640, height: int = 480, colour=(128, 128, 128)) -> bytes:
    return jpeg(Image.new("RGB", (width, height), colour))


def standing(left: float, top: float, width: float = 40, height: float = 100) -> Detection:
    return Detection(Box(left, top, width, height), 0.9, "hog", 1.0)


class FixedDetector:
    """Finds the same persons in every frame."""

    method = "fixed"

    def __init__(self, detections: list[Detection]):
        self.detections = detections
        self.frames: list[tuple[int, int]] = []

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        self.frames.append((rgb.shape[1], rgb.shape[0]))
        return list(self.detections)


class NoPeople(FixedDetector):
    def __init__(self):
        super().__init__([])


# Feet (bottom centres) at (120, 200), (420, 300) and (420, 470).
THREE_PEOPLE = [standing(100, 100), standing(400, 200), standing(400, 370)]


# ---------------------------------------------------------------- the API surface


def test_an_api_the_analyzer_lacks_raises_unsupported_naming_it_and_listing_the_others():
    analyzer = LocalAnalyzer(detector=NoPeople())
    with pytest.raises(Unsupported) as raised:
        analyzer.analyze("driver_behavior", [blank()])
    message = str(raised.value)
    assert "driver_behavior" in message
    for capability in ("persons", "body_num", "fence"):
        assert capability in message
    assert raised.value.permanent


def test_the_analyzer_offers_at_least_persons_counting_and_fences():
    assert {"persons", "body_num", "fence"} <= LocalAnalyzer.capabilities
    assert LocalAnalyzer.vendor == "local"


def test_what_is_not_an_image_is_refused_as_invalid_image():
    with pytest.raises(InvalidImage, match="not an image"):
        LocalAnalyzer(detector=NoPeople()).analyze("persons", [b"GET /snapshot 404"])


def test_persons_takes_exactly_one_image():
    analyzer = LocalAnalyzer(detector=NoPeople())
    with pytest.raises(BadRequest):
        analyzer.analyze("persons", [])
    with pytest.raises(BadRequest, match="one image"):
        analyzer.analyze("persons", [blank(), blank()])


def test_persons_reports_each_detection_with_its_box_score_and_a_descriptive_raw():
    # Given a detector that finds three people
    result = LocalAnalyzer(detector=FixedDetector(THREE_PEOPLE)).analyze("persons", [blank()])
    # Then they come back as persons, counted, in the frame's pixels
    assert result.person_count == 3
    assert [person.box for person in result.persons] == [d.box for d in THREE_PEOPLE]
    assert (result.frame_width, result.frame_height) == (640, 480)
    assert result.raw["method"] == "fixed"
    assert len(result.raw["detections"]) == 3


def test_boxes_are_in_pixels_of_the_upright_image_when_exif_says_rotate():
    # Given a 640x480 stored frame whose EXIF says "rotate 90 degrees to display"
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), "grey").save(buffer, format="JPEG", exif=exif.tobytes())
    detector = NoPeople()
    # When analysed
    result = LocalAnalyzer(detector=detector).analyze("persons", [buffer.getvalue()])
    # Then the detector saw, and the result describes, the upright 480x640 frame
    assert detector.frames == [(480, 640)]
    assert (result.frame_width, result.frame_height) == (480, 640)


# ---------------------------------------------------------------- body_num


def test_body_num_counts_per_area_only_the_people_whose_feet_are_inside():
    # Given feet at (120, 200), (420, 300), (420, 470) and two areas (Baidu format)
    area = "1,150,300,150,300,250,1,250;350,250,639,250,639,350,350,350"
    # When counted
    result = LocalAnalyzer(detector=FixedDetector(THREE_PEOPLE)).analyze(
        "body_num", [blank()], {"area": area}
    )
    # Then each area counts the one person standing in it; the third stands in neither
    assert result.area_counts == [1, 1]
    assert result.person_count == 2
    assert result.raw["area_counts"] == [1, 1]
    assert len(result.persons) == 3


def test_a_person_whose_box_overlaps_an_area_but_whose_feet_do_not_is_not_counted():
    # Given a person whose body crosses the area but who stands below it
    area = "1,1,639,1,639,250,1,250"
    person = standing(300, 150, height=150)  # feet at y = 300
    result = LocalAnalyzer(detector=FixedDetector([person])).analyze(
        "body_num", [blank()], {"area": area}
    )
    assert result.area_counts == [0]
    assert result.person_count == 0


def test_overlapping_areas_each_count_a_person_but_the_total_counts_them_once():
    area = "1,1,639,1,639,479,1,479;1,1,300,1,300,479,1,479"
    result = LocalAnalyzer(detector=FixedDetector(THREE_PEOPLE)).analyze(
        "body_num", [blank()], {"area": area}
    )
    assert result.area_counts == [3, 1]
    assert result.person_count == 3


def test_a_person_cut_off_by_the_bottom_edge_counts_in_an_area_drawn_to_the_edge():
    # Given a person whose box runs to the frame's bottom row, and an area reaching the
    # last row Baidu allows (height - 1)
    person = Detection(Box(300, 200, 60, 280), 0.9, "face", 8)  # bottom at y = 480
    area = "1,300,639,300,639,479,1,479"
    result = LocalAnalyzer(detector=FixedDetector([person])).analyze(
        "body_num", [blank()], {"area": area}
    )
    assert result.area_counts == [1]


def test_without_an_area_body_num_counts_the_whole_image():
    result = LocalAnalyzer(detector=FixedDetector(THREE_PEOPLE)).analyze("body_num", [blank()])
    assert result.person_count == 3
    assert result.area_counts == []


@pytest.mark.parametrize(
    "area",
    ["1,1,100,1,100", "1,1,700,1,700,100,1,100", "0,0,100,0,100,100", "a,b,c"],
    ids=["odd", "beyond-width", "zero-origin", "words"],
)
def test_an_area_baidu_would_reject_falls_back_to_the_whole_image_as_baidu_does(area):
    result = LocalAnalyzer(detector=FixedDetector(THREE_PEOPLE)).analyze(
        "body_num", [blank()], {"area": area}
    )
    assert result.person_count == 3
    assert result.area_counts == []
    assert "area ignored" in result.raw["area_error"]


def test_only_the_first_ten_areas_are_counted():
    square = "1,1,639,1,639,479,1,479"
    result = LocalAnalyzer(detector=FixedDetector(THREE_PEOPLE)).analyze(
        "body_num", [blank()], {"area": ";".join([square] * 12)}
    )
    assert result.area_counts == [3] * 10


# ---------------------------------------------------------------- fence


def test_the_fence_returns_per_image_only_the_people_standing_inside():
    # Given the CTYun form: one polygon over the right half, two frames
    area = "320,0,640,0,640,480,320,480"
    result = LocalAnalyzer(detector=FixedDetector(THREE_PEOPLE)).analyze(
        "fence", [blank(), blank()], {"area": area}
    )
    # Then each frame reports the two people whose feet are in the right half
    assert len(result.per_image) == 2
    for frame in result.per_image:
        assert frame.person_count == 2
        assert {person.box.left for person in frame.persons} == {400}
        assert frame.raw["target_num"] == 2
    assert result.person_count == 2
    assert result.raw["message"] == {"success": 2, "fail": 0}


def test_a_single_image_fence_result_also_carries_its_persons_at_the_top():
    area = "320,0,640,0,640,480,320,480"
    result = LocalAnalyzer(detector=FixedDetector(THREE_PEOPLE)).analyze(
        "fence", [blank()], {"area": area}
    )
    assert result.person_count == 2
    assert result.persons == result.per_image[0].persons


def test_an_unreadable_frame_among_good_ones_fails_alone():
    area = "0,0,640,0,640,480,0,480"
    result = LocalAnalyzer(detector=FixedDetector(THREE_PEOPLE)).analyze(
        "fence", [blank(), b"not a frame"], {"area": area}
    )
    assert result.raw["message"] == {"success": 1, "fail": 1}
    assert result.per_image[1].person_count is None
    assert "not an image" in result.per_image[1].raw["error"]


def test_a_fence_where_every_frame_is_unreadable_raises_invalid_image():
    with pytest.raises(InvalidImage):
        LocalAnalyzer(detector=NoPeople()).analyze(
            "fence", [b"x", b"y"], {"area": "0,0,10,0,10,10"}
        )


@pytest.mark.parametrize(
    ("area", "reason"),
    [
        (None, "needs an area"),
        ("0,0,100,0", "at least 3 points"),
        (",".join(["0,0", "1,0"] * 5), "3 to 9 points"),
        ("0,0,100,0,100,100;0,0,5,5,5,0", "one polygon"),
        ("0,0,800,0,800,100", "leaves the 640x480 image"),
    ],
)
def test_a_fence_area_ctyun_would_reject_is_a_bad_request(area, reason):
    params = {} if area is None else {"area": area}
    with pytest.raises(BadRequest, match=reason):
        LocalAnalyzer(detector=NoPeople()).analyze("fence", [blank()], params)


def test_a_fence_takes_at_most_32_frames():
    with pytest.raises(BadRequest, match="32"):
        LocalAnalyzer(detector=NoPeople()).analyze(
            "fence", [blank(64, 64)] * 33, {"area": "0,0,10,0,10,10"}
        )


# ---------------------------------------------------------------- tracking


def walking_frames(steps: list[int], width: int = 320, height: int = 240) -> list[bytes]:
    """A static textured yard and a dark upright figure whose left edge is at each x."""
    rng = np.random.default_rng(3)
    yard = rng.integers(90, 170, (height, width, 3), dtype=np.uint8)
    frames = []
    for x in steps:
        frame = yard.copy()
        if x is not None:
            frame[80:200, x : x + 40] = (30, 40, 60)
        frames.append(jpeg(Image.fromarray(frame)))
    return frames


def track(analyzer: LocalAnalyzer, frames: list[bytes], area: str, case: str = "gate-1"):
    results = []
    for index, frame in enumerate(frames):
        params = {"dynamic": "true", "case_id": case, "case_init": str(index == 0), "area": area}
        results.append(analyzer.analyze("body_tracking", [frame], params))
    return results


def test_a_figure_walking_into_the_area_is_counted_in_once_and_keeps_its_id():
    # Given an empty yard, then a moving figure crossing into the right half (the area)
    steps = [None, None, None, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220, 240]
    area = "160,1,319,1,319,239,160,239"
    results = track(LocalAnalyzer(detector=NoPeople()), walking_frames(steps), area)
    # Then exactly one entry is counted, none leaving, and the figure keeps one id
    assert sum(result.flow_in for result in results) == 1
    assert sum(result.flow_out for result in results) == 0
    ids = {person.track_id for result in results for person in result.persons}
    assert len(ids) == 1
    assert results[-1].raw["person_count"] == {"in": 0, "out": 0}


def test_a_figure_walking_out_of_the_area_is_counted_out():
    steps = [None, None, None, 240, 220, 200, 180, 160, 140, 120, 100, 80, 60, 40]
    area = "160,1,319,1,319,239,160,239"
    results = track(LocalAnalyzer(detector=NoPeople()), walking_frames(steps), area)
    assert sum(result.flow_out for result in results) == 1
    assert sum(result.flow_in for result in results) == 0


def test_an_empty_unchanging_yard_gives_no_one_to_track():
    results = track(
        LocalAnalyzer(detector=NoPeople()), walking_frames([None] * 6), "1,1,300,1,300,200,1,200"
    )
    assert all(result.person_count == 0 for result in results)


def test_ids_start_again_at_1_when_a_case_is_initialised():
    # Given a tracker that has already numbered a few people
    analyzer = LocalAnalyzer(detector=FixedDetector(THREE_PEOPLE))
    area = "1,1,639,1,639,479,1,479"
    params = {"dynamic": "true", "case_id": 7, "area": area}
    first = analyzer.analyze("body_tracking", [blank()], {**params, "case_init": "true"})
    # When the case is initialised again
    again = analyzer.analyze("body_tracking", [blank()], {**params, "case_init": "true"})
    # Then numbering restarts from 1
    assert sorted(p.track_id for p in first.persons) == [1, 2, 3]
    assert sorted(p.track_id for p in again.persons) == [1, 2, 3]


def test_dynamic_tracking_needs_a_case_id_and_an_area_of_four_points():
    analyzer = LocalAnalyzer(detector=NoPeople())
    with pytest.raises(BadRequest, match="case_id"):
        analyzer.analyze("body_tracking", [blank()], {"dynamic": "true", "area": "1,1,9,1,9,9,1,9"})
    with pytest.raises(BadRequest, match="4 points"):
        analyzer.analyze(
            "body_tracking", [blank()], {"dynamic": "true", "case_id": 1, "area": "1,1,9,1,9,9"}
        )


def test_static_tracking_counts_people_standing_in_the_area():
    result = LocalAnalyzer(detector=FixedDetector(THREE_PEOPLE)).analyze(
        "body_tracking", [blank()], {"dynamic": "false", "area": "1,1,300,1,300,300,1,300"}
    )
    assert result.person_count == 1
    assert result.flow_in is None


def test_the_centroid_tracker_follows_nearby_boxes_and_ends_tracks_that_vanish():
    tracker = CentroidTracker(max_missed=1)
    (a,) = tracker.update([Box(0, 0, 20, 50)])
    (b,) = tracker.update([Box(10, 0, 20, 50)])  # moved 10 px: same person
    assert a.id == b.id == 1
    tracker.update([])
    tracker.update([])  # unseen twice: gone
    (c,) = tracker.update([Box(10, 0, 20, 50)])
    assert c.id == 2


# ---------------------------------------------------------------- the real detector


def test_a_blank_frame_has_no_persons():
    result = LocalAnalyzer().analyze("persons", [blank()])
    assert result.persons == []
    assert result.person_count == 0
    # MoveNet when the install step made its model, OpenCV's HOG + face cascade otherwise.
    assert result.raw["method"].startswith(("movenet", "opencv"))


def test_non_maximum_suppression_keeps_the_best_of_overlapping_and_nested_boxes():
    best = Detection(Box(100, 100, 60, 150), 0.9, "hog", 2.0)
    shifted = Detection(Box(105, 102, 60, 150), 0.6, "hog", 1.0)
    nested = Detection(Box(110, 110, 30, 70), 0.5, "hog", 0.7)
    apart = Detection(Box(400, 100, 60, 150), 0.4, "hog", 0.6)
    assert suppress([shifted, nested, apart, best]) == [best, apart]


def ppe_photo_paths() -> list[Path]:
    paths = sorted((PPE / "images").glob("*.jpg"))
    if not paths:
        pytest.skip(f"no ppe-sample photos at {PPE}")
    return paths


def person_labels(path: Path, width: int, height: int) -> list[Box]:
    """Label classes 2 and 3 (a person without / with workwear) in pixels."""
    boxes = []
    for line in (PPE / "labels" / f"{path.stem}.txt").read_text().splitlines():
        label, *numbers = line.split()
        if int(label) not in (2, 3):
            continue
        values = [float(number) for number in numbers]
        if len(values) == 4:
            x, y, w, h = values
            values = [x - w / 2, y - h / 2, x + w / 2, y + h / 2]
        xs, ys = values[0::2], values[1::2]
        boxes.append(
            Box.from_corners(min(xs) * width, min(ys) * height, max(xs) * width, max(ys) * height)
        )
    return boxes


@pytest.fixture(scope="module")
def ppe_results():
    analyzer = LocalAnalyzer()
    return [(path, analyzer.analyze("persons", [path.read_bytes()])) for path in ppe_photo_paths()]


def test_on_the_real_site_photos_some_persons_are_found_within_their_frames(ppe_results):
    found = 0
    for _path, result in ppe_results:
        assert result.person_count == len(result.persons)
        for person in result.persons:
            box = person.box
            assert box.left >= 0 and box.right <= result.frame_width
            assert box.top >= 0 and box.bottom <= result.frame_height
            assert 0 < person.score <= 1
        found += len(result.persons)
        json.dumps(result.as_dict())  # storable as evidence beside the normalized result
    assert found > 0


def test_on_the_real_site_photos_some_found_person_covers_a_labelled_person(ppe_results):
    def overlap(a: Box, b: Box) -> float:
        width = min(a.right, b.right) - max(a.left, b.left)
        height = min(a.bottom, b.bottom) - max(a.top, b.top)
        return max(0.0, width) * max(0.0, height)

    covering = 0
    for path, result in ppe_results:
        labels = person_labels(path, result.frame_width, result.frame_height)
        for person in result.persons:
            if any(
                overlap(label, person.box) >= 0.5 * label.width * label.height for label in labels
            ):
                covering += 1
    assert covering > 0


def test_a_frame_twice_as_large_gives_the_same_persons_at_twice_the_coordinates():
    # Given a real photo on which HOG finds someone (first such photo, in name order)
    detector = PersonDetector(cues=("hog",))
    for path in ppe_photo_paths():
        small = Image.open(path).convert("RGB")
        if small.width > 600:
            continue
        found = detector.detect(np.asarray(small))
        if found:
            break
    else:
        pytest.skip("HOG finds no one in the small photos")
    # When the same photo is analysed at twice the size
    large = small.resize((small.width * 2, small.height * 2), Image.Resampling.LANCZOS)
    found_large = detector.detect(np.asarray(large))
    # Then the best person is found again, where it was, scaled by two
    best = max(found, key=lambda detection: detection.score).box
    expected = Box(best.left * 2, best.top * 2, best.width * 2, best.height * 2)

    def iou(a: Box, b: Box) -> float:
        width = min(a.right, b.right) - max(a.left, b.left)
        height = min(a.bottom, b.bottom) - max(a.top, b.top)
        inter = max(0.0, width) * max(0.0, height)
        return inter / (a.width * a.height + b.width * b.height - inter)

    assert max(iou(expected, detection.box) for detection in found_large) >= 0.5
