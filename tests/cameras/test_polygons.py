"""Region polygons: which ones may be saved, the vendors' limits where a region feeds an
API, and moving regions to a new frame size."""

from __future__ import annotations

import math

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from cameras.history import camera_history
from cameras.models import ChangeRecord, Region
from cameras.polygons import (
    analysis_region_error,
    limits_for_camera,
    polygon_error,
    region_errors,
    rescale,
    rescale_camera_regions,
)
from monitoring.lib.geometry import is_simple, segments_intersect
from tests.factories import (
    AnalysisFactory,
    CtyunAccountFactory,
    HttpCameraFactory,
    LocalAccountFactory,
    RegionFactory,
)

WIDTH, HEIGHT = 1280, 720
SQUARE = [[100, 100], [400, 100], [400, 300], [100, 300]]
BOW_TIE = [[100, 100], [400, 300], [400, 100], [100, 300]]


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@st.composite
def star_polygons(draw, width=WIDTH, height=HEIGHT):
    """A simple polygon: points at increasing angles around a centre, no two consecutive
    more than half a turn apart, so every edge stays on its side of the centre."""
    count = draw(st.integers(min_value=3, max_value=12))
    step = 2 * math.pi / count
    jitters = draw(st.lists(st.floats(0, 0.45), min_size=count, max_size=count))
    radius_cap = min(width, height) / 2 - 2
    radii = draw(st.lists(st.floats(5, radius_cap), min_size=count, max_size=count))
    cx = draw(st.floats(radius_cap + 1, width - 1 - radius_cap - 1))
    cy = draw(st.floats(radius_cap + 1, height - 1 - radius_cap - 1))
    start = draw(st.floats(0, 2 * math.pi))
    return [
        [
            round(cx + radius * math.cos(start + (index + jitter) * step), 2),
            round(cy + radius * math.sin(start + (index + jitter) * step), 2),
        ]
        for index, (jitter, radius) in enumerate(zip(jitters, radii, strict=True))
    ]


# ------------------------------------------------------------------------- shape


@given(star_polygons())
def test_a_random_simple_polygon_inside_the_frame_is_accepted(points):
    assert polygon_error(points, WIDTH, HEIGHT) is None
    assert is_simple([tuple(point) for point in points])


@given(star_polygons())
def test_the_same_polygon_drawn_backwards_is_accepted_too(points):
    assert polygon_error(list(reversed(points)), WIDTH, HEIGHT) is None


def test_a_bow_tie_is_refused_because_its_outline_crosses_itself():
    reason = polygon_error(BOW_TIE, WIDTH, HEIGHT)
    assert reason is not None
    assert "crosses itself" in reason


@given(star_polygons(), st.sampled_from(["left", "right", "up", "down"]))
def test_translating_a_valid_polygon_out_of_the_frame_is_refused(points, direction):
    xs, ys = [x for x, _ in points], [y for _, y in points]
    shift = {
        "left": (-(max(xs) + 1), 0),
        "right": (WIDTH - min(xs), 0),
        "up": (0, -(max(ys) + 1)),
        "down": (0, HEIGHT - min(ys)),
    }[direction]
    moved = [[x + shift[0], y + shift[1]] for x, y in points]
    reason = polygon_error(moved, WIDTH, HEIGHT)
    assert reason is not None
    assert "outside" in reason


def test_a_point_on_the_last_pixel_is_inside_and_one_past_it_is_not():
    on_edge = [[0, 0], [WIDTH - 1, 0], [WIDTH - 1, HEIGHT - 1]]
    past_edge = [[0, 0], [WIDTH, 0], [WIDTH - 1, HEIGHT - 1]]
    assert polygon_error(on_edge, WIDTH, HEIGHT) is None
    assert "Point 2 (1280, 0) is outside" in polygon_error(past_edge, WIDTH, HEIGHT)


def test_a_repeated_point_is_refused_by_number():
    reason = polygon_error([[10, 10], [50, 10], [50, 50], [10, 10.0], [5, 30]], WIDTH, HEIGHT)
    assert reason == "Points 1 and 4 are the same point."


def test_an_outline_turning_straight_back_on_itself_is_refused():
    # From (300, 100) back to (200, 100) runs along the edge just drawn.
    reason = polygon_error([[100, 100], [300, 100], [200, 100], [200, 300]], WIDTH, HEIGHT)
    assert reason is not None
    assert "turns back" in reason


def test_an_edge_running_along_another_edge_is_refused():
    # The edge (600, 0)-(300, 0) overlaps the first edge (0, 0)-(1000, 0).
    comb = [[0, 0], [1000, 0], [1000, 500], [600, 500], [600, 0], [300, 0], [300, 500], [0, 500]]
    assert polygon_error(comb, WIDTH, HEIGHT) is not None


def test_a_vertex_touching_another_edge_is_refused():
    touching = [[0, 0], [1000, 0], [1000, 500], [500, 0], [0, 500]]
    assert "crosses itself" in polygon_error(touching, WIDTH, HEIGHT)


def test_points_all_on_one_line_are_refused():
    assert polygon_error([[0, 0], [100, 100], [200, 200]], WIDTH, HEIGHT) is not None


@pytest.mark.parametrize(
    "points",
    [
        [[0, 0], [10, 0]],
        "0,0,10,0,10,10",
        [[0, 0], [10, 0], [10]],
        [[0, 0], [10, 0], [10, "10"]],
        [[0, 0], [10, 0], [10, True]],
        [[0, 0], [10, 0], [10, math.inf]],
        [[0, 0], [10, 0], [math.nan, 10]],
        None,
    ],
    ids=["two points", "text", "single", "string", "bool", "infinite", "nan", "none"],
)
def test_anything_but_three_or_more_finite_pairs_is_refused_with_one_reason(points):
    reason = polygon_error(points, WIDTH, HEIGHT)
    assert isinstance(reason, str)
    assert reason


def test_a_frame_of_zero_pixels_is_refused():
    assert polygon_error(SQUARE, 0, HEIGHT) is not None


@pytest.mark.parametrize(
    ("segments", "meet"),
    [
        (((0, 0), (10, 10), (0, 10), (10, 0)), True),  # crossing
        (((0, 0), (10, 0), (10, 0), (10, 10)), True),  # sharing an end
        (((0, 0), (10, 0), (5, 0), (5, 10)), True),  # an end on the other segment
        (((0, 0), (10, 0), (5, 0), (15, 0)), True),  # collinear, overlapping
        (((0, 0), (10, 0), (11, 0), (15, 0)), False),  # collinear, apart
        (((0, 0), (10, 0), (0, 1), (10, 1)), False),  # parallel
        (((0, 0), (10, 10), (0, 1), (4, 5)), False),  # close, not touching
    ],
)
def test_segment_intersection_counts_touching_and_collinear_overlap(segments, meet):
    assert segments_intersect(*segments) is meet


# ------------------------------------------------------------------------- rescaling


sizes = st.tuples(st.integers(2, 8000), st.integers(2, 8000))


@given(star_polygons(), sizes)
def test_rescaling_there_and_back_returns_the_same_points_within_rounding(points, size):
    there = rescale(points, (WIDTH, HEIGHT), size)
    back = rescale(there, size, (WIDTH, HEIGHT))
    # Each leg rounds to 0.005 px; the first leg's rounding is stretched on the way back.
    tolerance_x = 0.005 * (WIDTH - 1) / (size[0] - 1) + 0.005 + 1e-9
    tolerance_y = 0.005 * (HEIGHT - 1) / (size[1] - 1) + 0.005 + 1e-9
    for (x, y), (bx, by) in zip(points, back, strict=True):
        assert abs(x - bx) <= tolerance_x
        assert abs(y - by) <= tolerance_y


@given(star_polygons(), sizes)
def test_rescaling_keeps_every_point_inside_the_new_frame(points, size):
    for x, y in rescale(points, (WIDTH, HEIGHT), size):
        assert 0 <= x <= size[0] - 1
        assert 0 <= y <= size[1] - 1


def test_rescaling_maps_the_frame_corners_onto_the_new_corners():
    corners = [[0, 0], [1279, 0], [1279, 719], [0, 719]]
    assert rescale(corners, (1280, 720), (1920, 1080)) == [
        [0, 0],
        [1919, 0],
        [1919, 1079],
        [0, 1079],
    ]


# ------------------------------------------------------------------------- vendor limits


def ring(count: int, centre=(640, 360), radius=200) -> list[list[float]]:
    return [
        [
            round(centre[0] + radius * math.cos(2 * math.pi * i / count), 2),
            round(centre[1] + radius * math.sin(2 * math.pi * i / count), 2),
        ]
        for i in range(count)
    ]


@pytest.fixture
def camera(site_a):
    return HttpCameraFactory(site=site_a)


@pytest.mark.django_db
def test_a_ten_point_fence_is_refused_when_ctyun_runs_the_fence(camera):
    AnalysisFactory(camera=camera, api="fence", account=CtyunAccountFactory())

    errors = region_errors(camera, kind="fence", points=ring(10), width=WIDTH, height=HEIGHT)

    assert errors == {"points": "CTYun's electronic fence takes 3 to 9 points; this region has 10."}
    assert region_errors(camera, kind="fence", points=ring(9), width=WIDTH, height=HEIGHT) == {}


@pytest.mark.django_db
def test_a_ten_point_fence_is_accepted_when_no_ctyun_fence_runs_on_the_camera(camera):
    AnalysisFactory(camera=camera, api="fence", account=LocalAccountFactory())
    assert region_errors(camera, kind="fence", points=ring(10), width=WIDTH, height=HEIGHT) == {}


@pytest.mark.django_db
def test_the_eleventh_crowd_area_of_a_body_num_camera_is_refused(camera):
    AnalysisFactory(camera=camera, api="body_num")
    for index in range(10):
        RegionFactory(
            camera=camera, kind="crowd", points=ring(4, centre=(100 + index * 100, 360), radius=40)
        )

    errors = region_errors(camera, kind="crowd", points=SQUARE, width=WIDTH, height=HEIGHT)

    assert list(errors) == ["non_field_errors"]
    assert "already has 10 crowd areas" in errors["non_field_errors"]


@pytest.mark.django_db
def test_an_eleventh_crowd_area_is_fine_when_no_body_num_runs(camera):
    for index in range(10):
        RegionFactory(
            camera=camera, kind="crowd", points=ring(4, centre=(100 + index * 100, 360), radius=40)
        )
    assert region_errors(camera, kind="crowd", points=SQUARE, width=WIDTH, height=HEIGHT) == {}


@pytest.mark.django_db
def test_editing_one_of_ten_crowd_areas_is_not_counted_as_an_eleventh(camera):
    AnalysisFactory(camera=camera, api="body_num")
    regions = [RegionFactory(camera=camera, kind="crowd") for _ in range(10)]
    errors = region_errors(
        camera, kind="crowd", points=SQUARE, width=WIDTH, height=HEIGHT, region_id=regions[0].pk
    )
    assert errors == {}


@pytest.mark.django_db
def test_a_body_num_area_on_pixel_zero_is_refused_because_baidu_counts_from_one(camera):
    AnalysisFactory(camera=camera, api="body_num")
    errors = region_errors(
        camera, kind="crowd", points=[[0, 10], [100, 10], [100, 100]], width=WIDTH, height=HEIGHT
    )
    assert "from pixel 1" in errors["points"]


@pytest.mark.django_db
def test_a_body_tracking_area_touching_the_border_is_refused(camera):
    AnalysisFactory(camera=camera, api="body_tracking", interval=1.0, account__vendor="baidu")
    touching = [[0, 100], [400, 100], [400, 300], [0, 300]]

    errors = region_errors(camera, kind="flow", points=touching, width=WIDTH, height=HEIGHT)

    assert "strictly inside" in errors["points"]
    assert region_errors(camera, kind="flow", points=SQUARE, width=WIDTH, height=HEIGHT) == {}


@pytest.mark.django_db
def test_a_body_tracking_area_of_three_points_is_refused(camera):
    AnalysisFactory(camera=camera, api="body_tracking", interval=1.0)
    errors = region_errors(camera, kind="flow", points=ring(3), width=WIDTH, height=HEIGHT)
    assert "at least 4 points" in errors["points"]


@pytest.mark.django_db
def test_a_second_flow_area_of_a_body_tracking_camera_is_refused(camera):
    AnalysisFactory(camera=camera, api="body_tracking", interval=1.0)
    RegionFactory(camera=camera, kind="flow")
    errors = region_errors(camera, kind="flow", points=SQUARE, width=WIDTH, height=HEIGHT)
    assert "only one" in errors["non_field_errors"]


@pytest.mark.django_db
def test_adding_a_ctyun_fence_to_a_camera_with_a_ten_point_fence_is_refused(camera):
    RegionFactory(camera=camera, kind="fence", name="Pit", points=ring(10))
    reason = analysis_region_error(camera, "fence", "ctyun")
    assert reason.startswith("Region “Pit”: CTYun's electronic fence takes 3 to 9 points")
    assert analysis_region_error(camera, "fence", "local") is None


@pytest.mark.django_db
def test_the_limits_given_to_the_editor_follow_the_analyses_of_the_camera(camera):
    assert limits_for_camera(camera)["crowd"].max_regions is None
    AnalysisFactory(camera=camera, api="body_num")
    limits = limits_for_camera(camera)
    assert limits["crowd"].as_dict()["max_regions"] == 10
    assert limits["crowd"].edge == "from_one"
    assert limits["fence"].max_points == 100


# ------------------------------------------------------------------------- resolution


@pytest.mark.django_db
def test_a_new_resolution_rescales_the_regions_and_records_it_as_the_system(camera):
    region = RegionFactory(camera=camera, points=[[0, 0], [1279, 0], [1279, 719]])
    already = RegionFactory(
        camera=camera, points=[[0, 0], [100, 0], [0, 100]], frame_width=1920, frame_height=1080
    )

    report = rescale_camera_regions(camera, 1920, 1080)

    region.refresh_from_db()
    camera.refresh_from_db()
    assert (camera.width, camera.height) == (1920, 1080)
    assert region.points == [[0, 0], [1919, 0], [1919, 1079]]
    assert (region.frame_width, region.frame_height) == (1920, 1080)
    assert report.rescaled == [region.pk]
    assert report.problems == {}
    assert Region.objects.get(pk=already.pk).points == [[0, 0], [100, 0], [0, 100]]
    record = ChangeRecord.objects.get(object_type="region", object_id=region.pk)
    assert record.user is None
    assert record.changes["frame_width"] == [1280, 1920]
    assert record in camera_history(camera)


@pytest.mark.django_db
def test_a_rescaled_region_that_now_breaks_a_vendor_limit_is_reported(camera):
    AnalysisFactory(camera=camera, api="body_num")
    region = RegionFactory(camera=camera, kind="crowd", points=[[1, 1], [100, 1], [100, 100]])

    report = rescale_camera_regions(camera, 640, 360)

    assert region.pk in report.problems
    assert "from pixel 1" in report.problems[region.pk]
