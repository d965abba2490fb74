"""Area strings (monitoring/backends/geometry.py) and the shared geometry
(monitoring/lib/geometry.py): point-in-polygon, boxes, clamping, scaled results."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from monitoring.backends.base import AnalysisResult, Box, Keypoint, Person
from monitoring.backends.geometry import format_area, parse_area, read_area
from monitoring.lib.geometry import (
    clamp_points,
    covered,
    intersection,
    iou,
    point_in_polygon,
    shape_problem,
    size_factors,
)

coordinate = st.integers(min_value=-2000, max_value=2000)
point = st.tuples(coordinate, coordinate)
polygon = st.lists(point, min_size=3, max_size=12)


def convex_hull(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Andrew's monotone chain, counter-clockwise, collinear points dropped."""
    unique = sorted(set(points))
    if len(unique) < 3:
        return unique

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[int, int]] = []
    for p in unique:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[int, int]] = []
    for p in reversed(unique):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


# ---------------------------------------------------------------- parse_area / format_area


def test_a_baidu_area_string_with_two_polygons_parses_into_two_point_lists():
    # Given Baidu body_num's "x1,y1,...;x1,y1,..." form
    text = "1,1,100,1,100,80;200,200,300,200,300,300,200,300"

    # When it is parsed
    polygons = parse_area(text)

    # Then each polygon keeps its points in order
    assert polygons == [
        [(1, 1), (100, 1), (100, 80)],
        [(200, 200), (300, 200), (300, 300), (200, 300)],
    ]


def test_a_ctyun_area_string_parses_into_one_polygon_with_spaces_tolerated():
    assert parse_area(" 0,0, 1920,0,1920,1080 ,0,1080 ") == [
        [(0, 0), (1920, 0), (1920, 1080), (0, 1080)]
    ]


@pytest.mark.parametrize("text", ["", "   ", None])
def test_an_empty_area_string_means_no_polygon(text):
    assert parse_area(text) == []


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("1,1,100,1,100", "pairs"),
        ("1,1,100,1", "at least 3 points"),
        ("1,1,a,1,100,100", "not a list of numbers"),
        ("1,1,100,1,100,100;5,5", "polygon 2"),
        ("1,1,inf,1,100,100", "finite"),
    ],
)
def test_a_malformed_area_string_is_refused_with_a_reason(text, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_area(text)


@given(st.lists(st.lists(point, min_size=3, max_size=9), min_size=1, max_size=10))
def test_formatting_then_parsing_whole_pixel_polygons_gives_them_back(polygons):
    assert parse_area(format_area(polygons)) == polygons


def test_format_area_rounds_to_whole_pixels_and_joins_polygons_with_semicolons():
    assert format_area([[(1.4, 1.6), (10, 1), (10, 10)], [(0, 0), (5, 0), (5, 5)]]) == (
        "1,2,10,1,10,10;0,0,5,0,5,5"
    )


# ---------------------------------------------------------------- point_in_polygon


def test_points_of_a_square_are_inside_on_its_edges_and_outside_beyond():
    square = [(0, 0), (10, 0), (10, 10), (0, 10)]
    assert point_in_polygon((5, 5), square)
    assert point_in_polygon((0, 0), square)  # a corner
    assert point_in_polygon((10, 5), square)  # an edge
    assert not point_in_polygon((10.5, 5), square)
    assert not point_in_polygon((5, -0.01), square)


def test_the_notch_of_a_concave_polygon_is_outside():
    # Given a U shape whose notch spans x 4..6, y 4..10
    u_shape = [(0, 0), (10, 0), (10, 10), (6, 10), (6, 4), (4, 4), (4, 10), (0, 10)]
    # Then the notch is outside and both arms are inside
    assert not point_in_polygon((5, 8), u_shape)
    assert point_in_polygon((2, 8), u_shape)
    assert point_in_polygon((8, 8), u_shape)


def test_a_degenerate_polygon_contains_nothing():
    assert not point_in_polygon((0, 0), [(0, 0), (1, 1)])


@given(point, st.tuples(coordinate, coordinate), st.tuples(coordinate, coordinate))
def test_inside_an_axis_aligned_rectangle_means_within_its_bounds(pt, corner_a, corner_b):
    left, right = sorted((corner_a[0], corner_b[0]))
    top, bottom = sorted((corner_a[1], corner_b[1]))
    assume(left < right and top < bottom)
    rectangle = [(left, top), (right, top), (right, bottom), (left, bottom)]
    expected = left <= pt[0] <= right and top <= pt[1] <= bottom
    assert point_in_polygon(pt, rectangle) == expected


@given(st.lists(point, min_size=3, max_size=20))
def test_the_vertex_centroid_of_a_convex_polygon_is_inside(points):
    hull = convex_hull(points)
    assume(len(hull) >= 3)
    # Scaled by the vertex count so that the centroid has whole coordinates (exact).
    n = len(hull)
    scaled = [(x * n, y * n) for x, y in hull]
    centroid = (sum(x for x, _ in hull), sum(y for _, y in hull))
    assert point_in_polygon(centroid, scaled)


@given(polygon, point, point)
def test_moving_polygon_and_point_together_does_not_change_the_answer(poly, pt, shift):
    dx, dy = shift
    moved = [(x + dx, y + dy) for x, y in poly]
    assert point_in_polygon(pt, poly) == point_in_polygon((pt[0] + dx, pt[1] + dy), moved)


@given(polygon, point, st.integers(min_value=0, max_value=11))
def test_vertex_order_and_starting_vertex_do_not_change_the_answer(poly, pt, start):
    start %= len(poly)
    rotated = poly[start:] + poly[:start]
    expected = point_in_polygon(pt, poly)
    assert point_in_polygon(pt, rotated) == expected
    assert point_in_polygon(pt, list(reversed(poly))) == expected


@given(polygon)
def test_every_vertex_counts_as_inside(poly):
    assert all(point_in_polygon(vertex, poly) for vertex in poly)


@given(polygon, point)
def test_a_point_beyond_the_bounding_box_is_outside(poly, pt):
    xs, ys = [x for x, _ in poly], [y for _, y in poly]
    assume(not (min(xs) <= pt[0] <= max(xs) and min(ys) <= pt[1] <= max(ys)))
    assert not point_in_polygon(pt, poly)


# ---------------------------------------------------------------- read_area


def test_an_area_reads_the_same_from_text_from_points_and_from_flat_lists():
    square = [(10.0, 10.0), (50.0, 10.0), (50.0, 40.0), (10.0, 40.0)]
    assert read_area("10,10,50,10,50,40,10,40") == [square]
    assert read_area([(10, 10), (50, 10), (50, 40), (10, 40)]) == [square]
    assert read_area([[[10, 10], [50, 10], [50, 40], [10, 40]]]) == [square]
    assert read_area([[10, 10, 50, 10, 50, 40, 10, 40]]) == [square]
    assert read_area(None) == [] and read_area("  ") == []


@pytest.mark.parametrize(
    "value",
    [[(0, 0), (1, 1)], [[0, 0, 1]], [(0, 0), (1, float("nan")), (2, 2)], 42],
)
def test_an_area_that_is_not_polygons_is_refused(value):
    with pytest.raises(ValueError):
        read_area(value)


# ---------------------------------------------------------------- boxes


def test_box_overlap_measures():
    a, b = (0, 0, 10, 10), (5, 0, 15, 10)
    assert intersection(a, b) == 50
    assert iou(a, b) == pytest.approx(50 / 150)
    assert covered(a, b) == 0.5
    assert intersection(a, (10, 0, 20, 10)) == 0.0  # touching edges share no area
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_size_factors_are_none_for_the_same_or_an_unknown_size():
    assert size_factors((4096, 2048), (5120, 2560)) == (1.25, 1.25)
    assert size_factors((640, 480), (640, 480)) is None
    assert size_factors((0, 480), (640, 480)) is None
    assert size_factors((640, 480), None) is None


def test_a_result_is_scaled_to_the_frame_with_its_keypoints_and_windows():
    person = Person(
        box=Box(400, 200, 80, 160), score=0.9, keypoints=[Keypoint("nose", 440, 210, 0.8)]
    )
    window = AnalysisResult("ctyun", "fence", 4096, 2048, persons=[person])
    result = AnalysisResult("baidu", "body_attr", 4096, 2048, persons=[person], per_image=[window])

    scaled = result.scaled_to((5120, 2560))

    assert (scaled.frame_width, scaled.frame_height) == (5120, 2560)
    assert scaled.persons[0].box == Box(500, 250, 100, 200)
    assert (scaled.persons[0].keypoints[0].x, scaled.persons[0].keypoints[0].y) == (550, 262.5)
    assert scaled.per_image[0].persons[0].box == Box(500, 250, 100, 200)
    assert result.persons[0].box == Box(400, 200, 80, 160)  # the original is untouched
    assert result.scaled_to((4096, 2048)) is result


# ---------------------------------------------------------------- polygons


def test_points_are_clamped_to_whole_pixels_inside_the_frame():
    points = [(-3.2, 0.4), (639.6, 10.5), (100.49, 480)]
    assert clamp_points(points, (640, 480)) == [(0, 0), (639, 10), (100, 479)]
    assert clamp_points(points, (640, 480), lowest=1) == [(1, 1), (639, 10), (100, 479)]


def test_shape_problems_name_the_points_involved():
    assert shape_problem([(0, 0), (10, 0), (10, 10), (0, 10)]) is None
    assert shape_problem([(0, 0), (10, 0), (0, 0), (0, 10)]) == ("repeated", (1, 3))
    assert shape_problem([(0, 0), (10, 10), (10, 0), (0, 10)]) == ("crosses", (1, 2, 3, 4))
    assert shape_problem([(0, 0), (5, 0), (10, 0)]) == ("turns_back", (3,))
