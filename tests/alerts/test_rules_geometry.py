"""Geometry of the alert rules (alerts/rules.py), as properties: feet strictly inside a
convex zone are inside; moving the whole scene changes no decision; boxes analysed at
another size are scaled to the frame."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.rules import RuleConfig, evaluate, initial_state
from monitoring.backends.base import AnalysisResult, Box, DetectedObject, Person

from . import MONDAY_MORNING, located, person, rectangle, standing_at

FENCE = RuleConfig(kind="fence_intrusion")


def decide(rule, results, region, **kw):
    decision, _ = evaluate(rule, results, region, initial_state(), now=MONDAY_MORNING, **kw)
    return decision


# ---------------------------------------------------------------- convex zones


@st.composite
def convex_polygons(draw):
    """Vertices on a circle, counter-clockwise, no two closer than 0.4 rad: convex."""
    count = draw(st.integers(min_value=3, max_value=10))
    gaps = draw(st.lists(st.integers(min_value=2, max_value=3), min_size=count, max_size=count))
    turn = draw(st.floats(min_value=0, max_value=2 * math.pi))
    angles = [turn + 2 * math.pi * sum(gaps[:index]) / sum(gaps) for index in range(count)]
    cx = draw(st.floats(min_value=-1000, max_value=1000))
    cy = draw(st.floats(min_value=-1000, max_value=1000))
    radius = draw(st.floats(min_value=20, max_value=1000))
    return [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles]


@given(data=st.data(), polygon=convex_polygons())
def test_a_foot_point_strictly_inside_a_convex_zone_is_inside(data, polygon):
    # Given a point that is a convex combination of every vertex, each weight positive
    weights = data.draw(
        st.lists(
            st.integers(min_value=1, max_value=100),
            min_size=len(polygon),
            max_size=len(polygon),
        )
    )
    total = sum(weights)
    x = sum(w * px for w, (px, _) in zip(weights, polygon, strict=True)) / total
    y = sum(w * py for w, (_, py) in zip(weights, polygon, strict=True)) / total
    # When a person stands there
    decision = decide(FENCE, [located(standing_at(x, y))], polygon)
    # Then the fence sees an intrusion
    assert decision.fire
    assert decision.count == 1


@given(polygon=convex_polygons(), side=st.sampled_from(["left", "right", "above", "below"]))
def test_a_foot_point_beyond_every_vertex_is_outside(polygon, side):
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    x, y = {
        "left": (min(xs) - 1, sum(ys) / len(ys)),
        "right": (max(xs) + 1, sum(ys) / len(ys)),
        "above": (sum(xs) / len(xs), min(ys) - 1),
        "below": (sum(xs) / len(xs), max(ys) + 1),
    }[side]
    assert not decide(FENCE, [located(standing_at(x, y))], polygon).holds


# ---------------------------------------------------------------- moving the scene

coordinate = st.integers(min_value=0, max_value=1500)
size = st.integers(min_value=1, max_value=400)
scores = st.sampled_from([0.3, 0.6, 0.95])
boxes = st.tuples(coordinate, coordinate, size, size)
polygons = st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=8)
offsets = st.integers(min_value=-5000, max_value=5000)


def moved_box(box: Box, dx: float, dy: float) -> Box:
    return Box(box.left + dx, box.top + dy, box.width, box.height)


def moved(result: AnalysisResult, dx: float, dy: float) -> AnalysisResult:
    return replace(
        result,
        persons=[replace(p, box=moved_box(p.box, dx, dy)) for p in result.persons],
        objects=[replace(o, box=moved_box(o.box, dx, dy)) for o in result.objects],
        per_image=[moved(item, dx, dy) for item in result.per_image],
    )


def same_decision(first, second, dx, dy):
    assert (first.active, first.holds, first.fire) == (second.active, second.holds, second.fire)
    assert (first.count, first.summary, first.score) == (second.count, second.summary, second.score)
    assert [moved_box(f.box, dx, dy) if f.box else None for f in first.findings] == [
        f.box for f in second.findings
    ]


SCENE_RULES = [
    RuleConfig(kind="fence_intrusion"),
    RuleConfig(kind="crowd", params={"limit": 1}),
    RuleConfig(kind="no_helmet"),
    RuleConfig(kind="workwear_colour", params={"allowed_colours": ["blue"]}),
    RuleConfig(kind="smoking"),
]


@pytest.mark.parametrize("rule", SCENE_RULES, ids=lambda rule: rule.kind)
@given(
    people=st.lists(st.tuples(boxes, scores, st.booleans()), max_size=6),
    things=st.lists(st.tuples(boxes, st.sampled_from(["blue_hat", "no_hat", "red"])), max_size=6),
    polygon=polygons,
    dx=offsets,
    dy=offsets,
)
def test_moving_the_whole_scene_changes_no_decision(rule, people, things, polygon, dx, dy):
    # Given persons (some smoking), helmet and garment boxes, and a zone
    persons = [
        person(*box, score=score, smoke=("吸烟" if smokes else "未吸烟", score))
        for box, score, smokes in people
    ]
    objects = [DetectedObject(label, Box(*box), 0.9) for box, label in things]
    scene = [
        located(*persons, api="body_attr", vendor="baidu", frame=None),
        AnalysisResult(vendor="ctyun", api="helmet", objects=objects),
        AnalysisResult(vendor="ctyun", api="workwear", objects=objects),
    ]
    # When everything moves by (dx, dy)
    shifted = [moved(result, dx, dy) for result in scene]
    region = [(x + dx, y + dy) for x, y in polygon]
    # Then every decision is the same, its evidence moved along
    same_decision(decide(rule, scene, polygon), decide(rule, shifted, region), dx, dy)


@given(
    path=st.lists(st.tuples(st.integers(-8, 8), st.integers(-8, 8)), min_size=2, max_size=6),
    start=st.tuples(coordinate, coordinate),
    polygon=polygons,
    dx=offsets,
    dy=offsets,
)
def test_moving_the_whole_scene_changes_no_loitering_decision(path, start, polygon, dx, dy):
    rule = RuleConfig(kind="loitering", params={"dwell_seconds": 20})
    region = [(x + dx, y + dy) for x, y in polygon]
    state, moved_state = initial_state(), initial_state()
    left, top = start
    for index, (step_x, step_y) in enumerate(path):
        left, top = left + step_x, top + step_y
        frame = [located(person(left, top, 60, 150))]
        now = MONDAY_MORNING + timedelta(seconds=15 * index)
        first, state = evaluate(rule, frame, polygon, state, now=now)
        second, moved_state = evaluate(
            rule, [moved(frame[0], dx, dy)], region, moved_state, now=now
        )
        same_decision(first, second, dx, dy)


# ---------------------------------------------------------------- scaling to the frame


@given(
    people=st.lists(st.tuples(boxes, scores), min_size=1, max_size=6),
    polygon=polygons,
    factor=st.sampled_from([0.25, 0.5, 2.0, 4.0]),
)
def test_boxes_analysed_at_another_size_are_scaled_to_the_frame(people, polygon, factor):
    # Given persons found on a copy of the 1600x1200 frame resized by ``factor``
    full = [Person(box=Box(*box), score=score) for box, score in people]
    small = [
        Person(
            box=Box(b.left * factor, b.top * factor, b.width * factor, b.height * factor),
            score=p.score,
        )
        for p, b in ((p, p.box) for p in full)
    ]
    analysed = located(*small, frame=(int(1600 * factor), int(1200 * factor)))
    # When the rule is given the frame's size
    rule = RuleConfig(kind="crowd", params={"limit": 1})
    scaled = decide(rule, [analysed], polygon, frame_size=(1600, 1200))
    # Then it decides as on the boxes in pixels of the frame
    direct = decide(rule, [located(*full, frame=(1600, 1200))], polygon)
    same_decision(direct, scaled, 0, 0)


def test_a_result_at_the_frames_size_or_of_unknown_size_is_left_as_it_is():
    intruder = located(standing_at(200, 250), frame=(640, 480))
    unknown = located(standing_at(200, 250), frame=None)
    gate = rectangle(100, 100, 300, 300)
    assert decide(FENCE, [intruder], gate, frame_size=(640, 480)).fire
    assert decide(FENCE, [unknown], gate, frame_size=(1920, 1080)).fire


def test_a_half_size_analysis_of_a_person_at_the_gate_is_seen_at_the_gate():
    # Given a 1920x1080 frame, analysed at 960x540: feet at (100, 125) there, (200, 250) here
    analysed = located(standing_at(100, 125, width=20, height=50), frame=(960, 540))
    gate = rectangle(150, 200, 300, 300)
    assert not decide(FENCE, [analysed], gate).holds
    decision = decide(FENCE, [analysed], gate, frame_size=(1920, 1080))
    assert decision.fire
    assert decision.findings[0].box == Box(180, 150, 40, 100)


def test_fence_answers_are_scaled_image_by_image():
    found = located(standing_at(100, 125, width=20, height=50), api="fence", frame=(960, 540))
    answer = AnalysisResult(vendor="ctyun", api="fence", person_count=1, per_image=[found])
    decision = decide(FENCE, [answer], None, frame_size=(1920, 1080))
    assert decision.findings[0].box == Box(180, 150, 40, 100)
