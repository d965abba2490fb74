"""Alert rules (alerts/rules.py): each kind fires and stays quiet on the right frames;
debouncing, active hours and days, min_confidence, state that survives JSON."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.rules import (
    NO_DATA,
    RULE_KINDS,
    Decision,
    RuleConfig,
    evaluate,
    in_cooldown,
    initial_state,
    is_active,
)
from monitoring.backends.base import AnalysisResult, Box, DetectedObject, Driver, DriverBehaviour

from . import (
    MONDAY_MORNING,
    attributed,
    baidu,
    located,
    person,
    recorded,
    rectangle,
    standing_at,
    tracking,
)

GATE = rectangle(100, 100, 300, 300)
ANYWHERE = None


def decide(rule, results, region=ANYWHERE, state=None, now=MONDAY_MORNING, **kw) -> Decision:
    decision, _ = evaluate(rule, results, region, state or initial_state(), now=now, **kw)
    return decision


def run(rule, frames, region=ANYWHERE, start=MONDAY_MORNING, step=1.0):
    """Evaluate ``frames`` (lists of results) one after the other, ``step`` seconds apart;
    the decisions and the final state."""
    state, decisions = initial_state(), []
    for index, results in enumerate(frames):
        now = start + timedelta(seconds=index * step)
        decision, state = evaluate(rule, results, region, state, now=now)
        decisions.append(decision)
    return decisions, state


def fall_window(score: float) -> AnalysisResult:
    return AnalysisResult(vendor="ctyun", api="fall", sequence_score=score)


def nothing_relevant() -> AnalysisResult:
    return AnalysisResult(vendor="ctyun", api="face_quality")


# ---------------------------------------------------------------- configuration and state


def test_initial_state_survives_a_json_round_trip():
    assert json.loads(json.dumps(initial_state())) == initial_state()


def test_rule_config_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown rule kind"):
        RuleConfig(kind="sleeping")


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        ("crowd", "limit"),
        ("occupancy", "capacity"),
        ("flow", "limit_per_window"),
        ("workwear_colour", "allowed_colours"),
        ("loitering", "dwell_seconds"),
    ],
)
def test_rule_config_names_the_params_a_kind_needs(kind, missing):
    with pytest.raises(ValueError, match=missing):
        RuleConfig(kind=kind)


def test_rule_config_refuses_an_unknown_severity_and_a_zero_frame_run():
    with pytest.raises(ValueError, match="severity"):
        RuleConfig(kind="fall", severity="urgent")
    with pytest.raises(ValueError, match="consecutive_frames"):
        RuleConfig(kind="fall", consecutive_frames=0)


def test_rule_config_takes_active_days_as_any_collection_and_stays_hashable():
    rule = RuleConfig(kind="fall", active_days=[0, 1, 2])
    assert rule.active_days == frozenset({0, 1, 2})
    assert hash(rule) == hash(RuleConfig(kind="fall", active_days={2, 1, 0}))


def test_severity_passes_through_to_the_decision():
    rule = RuleConfig(kind="fall", severity="critical")
    assert decide(rule, [fall_window(0.9)]).severity == "critical"


RICH_FRAME = [
    baidu("body_attr"),
    baidu("body_tracking", "body_tracking_one_out"),
    baidu("driver_behavior"),
    baidu("body_num", area_counts=[3]),
    recorded("ctyun_helmet"),
    recorded("ctyun_workwear"),
    recorded("ctyun_fence"),
    recorded("ctyun_fall"),
    recorded("ctyun_fight"),
]
EVERY_KIND = [
    RuleConfig(
        kind=kind,
        params={
            "limit": 1,
            "capacity": 1,
            "limit_per_window": 1,
            "window_seconds": 60,
            "allowed_colours": ["blue"],
            "dwell_seconds": 1,
        },
    )
    for kind in RULE_KINDS
]


@pytest.mark.parametrize("rule", EVERY_KIND, ids=lambda rule: rule.kind)
def test_every_kind_returns_a_state_that_survives_json_and_leaves_the_input_alone(rule):
    # Given a state that has already seen frames
    _, state = evaluate(rule, RICH_FRAME, GATE, initial_state(), now=MONDAY_MORNING)
    frozen = copy.deepcopy(state)
    # When the next frame is evaluated from its JSON round trip
    again = json.loads(json.dumps(state))
    decision, new_state = evaluate(
        rule, RICH_FRAME, GATE, again, now=MONDAY_MORNING + timedelta(seconds=5)
    )
    # Then the new state is plain JSON, and neither state given was changed
    assert json.loads(json.dumps(new_state)) == new_state
    assert again == frozen
    assert state == frozen
    assert isinstance(decision, Decision)


@pytest.mark.parametrize("rule", EVERY_KIND, ids=lambda rule: rule.kind)
def test_every_kind_says_no_data_when_nothing_relevant_ran(rule):
    decision = decide(rule, [nothing_relevant()], GATE)
    assert (decision.holds, decision.fire, decision.summary) == (False, False, NO_DATA)


# ---------------------------------------------------------------- debouncing


def test_a_rule_fires_once_its_condition_held_the_required_frames_in_a_row():
    rule = RuleConfig(kind="fall", consecutive_frames=3)
    decisions, state = run(rule, [[fall_window(0.9)]] * 3)
    assert [d.holds for d in decisions] == [True, True, True]
    assert [d.fire for d in decisions] == [False, False, True]
    assert state["consecutive"] == 3


def test_a_one_frame_glitch_does_not_fire():
    rule = RuleConfig(kind="fall", consecutive_frames=2)
    frames = [[fall_window(0.1)], [fall_window(0.9)], [fall_window(0.1)], [fall_window(0.9)]]
    decisions, _ = run(rule, frames)
    assert not any(d.fire for d in decisions)


def test_a_frame_that_does_not_hold_restarts_the_run():
    rule = RuleConfig(kind="fall", consecutive_frames=3)
    frames = [[fall_window(s)] for s in (0.9, 0.9, 0.1, 0.9, 0.9, 0.9)]
    decisions, _ = run(rule, frames)
    assert [d.fire for d in decisions] == [False, False, False, False, False, True]


def test_a_frame_without_relevant_data_neither_counts_nor_breaks_the_run():
    # Given fall analysed every other frame, other analyses in between
    rule = RuleConfig(kind="fall", consecutive_frames=2)
    frames = [[fall_window(0.9)], [nothing_relevant()], [fall_window(0.9)]]
    decisions, _ = run(rule, frames)
    assert [d.summary == NO_DATA for d in decisions] == [False, True, False]
    assert [d.fire for d in decisions] == [False, False, True]


@given(
    frames=st.lists(st.sampled_from(["holds", "clear", "none"]), min_size=1, max_size=25),
    needed=st.integers(min_value=1, max_value=4),
)
def test_a_rule_fires_exactly_when_the_last_analysed_frames_all_held(frames, needed):
    rule = RuleConfig(kind="fall", consecutive_frames=needed)
    results = {"holds": [fall_window(0.9)], "clear": [fall_window(0.1)], "none": []}
    decisions, _ = run(rule, [results[frame] for frame in frames])
    for index, decision in enumerate(decisions):
        analysed = [frame for frame in frames[: index + 1] if frame != "none"]
        expected = (
            frames[index] == "holds"
            and len(analysed) >= needed
            and all(frame == "holds" for frame in analysed[-needed:])
        )
        assert decision.fire == expected


# ---------------------------------------------------------------- active hours and days


NIGHT_SHIFT = RuleConfig(kind="fall", active_start=time(22), active_end=time(6))


@pytest.mark.parametrize(
    ("moment", "active"),
    [
        (datetime(2024, 5, 6, 23, 0), True),
        (datetime(2024, 5, 7, 3, 0), True),
        (datetime(2024, 5, 7, 5, 59), True),
        (datetime(2024, 5, 7, 6, 0), False),
        (datetime(2024, 5, 7, 12, 0), False),
        (datetime(2024, 5, 7, 22, 0), True),
    ],
)
def test_active_hours_that_wrap_midnight_cover_both_sides_of_it(moment, active):
    assert is_active(NIGHT_SHIFT, moment) is active


def test_a_frame_outside_active_hours_does_not_fire_and_restarts_the_run():
    # Given a night-shift rule that needs two frames, held once at 05:59
    rule = replace(NIGHT_SHIFT, consecutive_frames=2)
    state = initial_state()
    _, state = evaluate(rule, [fall_window(0.9)], None, state, now=datetime(2024, 5, 7, 5, 59))
    # When the condition still holds at 06:00 (outside) and again at 22:00
    day, state = evaluate(rule, [fall_window(0.9)], None, state, now=datetime(2024, 5, 7, 6, 0))
    night, _ = evaluate(rule, [fall_window(0.9)], None, state, now=datetime(2024, 5, 7, 22, 0))
    # Then the daytime frame is inactive and does not fire, and the evening starts over
    assert (day.active, day.holds, day.fire) == (False, True, False)
    assert (night.active, night.fire) == (True, False)


def test_a_rule_for_weekdays_is_inactive_on_saturday():
    rule = RuleConfig(kind="fall", active_days=range(5))
    saturday = datetime(2024, 5, 11, 10, 0)
    assert decide(rule, [fall_window(0.9)], now=MONDAY_MORNING).fire
    assert not decide(rule, [fall_window(0.9)], now=saturday).fire


def test_a_night_shift_belongs_to_the_day_it_started_on():
    # Given night shifts on weekdays only: Friday night runs into Saturday morning,
    # and there is no Sunday night shift running into Monday morning
    rule = replace(NIGHT_SHIFT, active_days=frozenset(range(5)))
    assert is_active(rule, datetime(2024, 5, 11, 3, 0))  # Saturday 03:00
    assert not is_active(rule, datetime(2024, 5, 6, 3, 0))  # Monday 03:00
    assert not is_active(rule, datetime(2024, 5, 11, 23, 0))  # Saturday 23:00


def test_active_hours_within_a_day_include_their_start_and_exclude_their_end():
    rule = RuleConfig(kind="fall", active_start=time(8), active_end=time(17))
    assert is_active(rule, datetime(2024, 5, 6, 8, 0))
    assert not is_active(rule, datetime(2024, 5, 6, 17, 0))
    assert not is_active(rule, datetime(2024, 5, 6, 7, 59))


def test_an_aware_time_is_read_in_the_rules_timezone():
    rule = RuleConfig(
        kind="fall",
        active_start=time(8),
        active_end=time(17),
        params={"timezone": "Asia/Shanghai"},
    )
    # 01:00 UTC is 09:00 in Shanghai
    assert is_active(rule, datetime(2024, 5, 6, 1, 0, tzinfo=UTC))
    assert not is_active(rule, datetime(2024, 5, 6, 12, 0, tzinfo=UTC))


def test_cooldown_holds_for_its_seconds_after_a_resolve():
    rule = RuleConfig(kind="fall", cooldown_seconds=300)
    resolved = MONDAY_MORNING
    assert in_cooldown(rule, resolved, resolved + timedelta(seconds=299))
    assert not in_cooldown(rule, resolved, resolved + timedelta(seconds=300))
    assert not in_cooldown(rule, None, resolved)
    assert not in_cooldown(RuleConfig(kind="fall"), resolved, resolved)


# ---------------------------------------------------------------- fence_intrusion


FENCE = RuleConfig(kind="fence_intrusion", params={"region_name": "Gate"})


def test_a_person_whose_feet_stand_inside_the_fence_fires_an_intrusion():
    intruder = standing_at(200, 250)
    decision = decide(FENCE, [located(intruder, standing_at(500, 400))], GATE)
    assert decision.fire
    assert decision.count == 1
    assert [finding.box for finding in decision.findings] == [intruder.box]
    assert decision.summary == "1 person inside fence 'Gate'"


def test_a_person_whose_box_crosses_the_fence_but_whose_feet_stay_outside_is_no_intrusion():
    # Given a tall person standing just below the fence, the upper body inside it
    passer_by = standing_at(200, 320, height=200)
    decision = decide(FENCE, [located(passer_by)], GATE)
    assert (decision.holds, decision.fire, decision.count) == (False, False, 0)
    assert decision.summary == "nobody inside fence 'Gate'"


def test_a_person_scored_below_min_confidence_is_no_intrusion():
    doubtful = standing_at(200, 250, score=0.4)
    assert not decide(FENCE, [located(doubtful)], GATE).holds
    assert decide(replace(FENCE, min_confidence=0.3), [located(doubtful)], GATE).fire


def test_the_ctyun_fence_answer_with_targets_fires_without_a_second_polygon_check():
    # Given the seed's fence answer: two targets found in the vendor's area
    decision = decide(FENCE, [recorded("ctyun_fence")], GATE)
    assert decision.fire
    assert decision.count == 2
    assert decision.summary == "2 persons inside fence 'Gate'"


def test_the_fence_answer_counts_its_last_image_only():
    fence = recorded("ctyun_fence")
    emptied = replace(fence.per_image[0], persons=[], person_count=0)
    later_empty = replace(fence, per_image=[fence.per_image[0], emptied])
    assert not decide(FENCE, [later_empty], GATE).holds
    earlier_empty = replace(fence, per_image=[emptied, fence.per_image[0]])
    assert decide(FENCE, [earlier_empty], GATE).fire


def test_without_a_region_every_located_person_is_inside():
    assert decide(FENCE, [located(standing_at(600, 470))], ANYWHERE).fire


# ---------------------------------------------------------------- no_helmet


HELMETS = RuleConfig(kind="no_helmet")
YARD = rectangle(0, 0, 2000, 2000)


def test_the_baidu_example_person_without_a_hat_fires():
    # Given the seed's body_attr answer: headwear 无帽 at 0.786, feet at (863.5, 1002)
    decision = decide(HELMETS, [baidu("body_attr")], YARD)
    assert decision.fire
    assert [(f.label, round(f.score, 3)) for f in decision.findings] == [("no hat", 0.786)]
    assert decision.summary == "1 person without a safety helmet"


def test_min_confidence_filters_a_doubtful_headwear_reading():
    assert not decide(replace(HELMETS, min_confidence=0.8), [baidu("body_attr")], YARD).holds


def test_a_safety_helmet_does_not_fire_and_an_ordinary_hat_does():
    helmet = standing_at(200, 250, headwear=("安全帽", 0.95))
    cap = standing_at(150, 250, headwear=("普通帽", 0.9))
    assert not decide(HELMETS, [attributed(helmet)], GATE).holds
    decision = decide(HELMETS, [attributed(helmet, cap)], GATE)
    assert [f.label for f in decision.findings] == ["ordinary hat"]


def test_a_bare_head_outside_the_helmet_zone_does_not_fire():
    outside = standing_at(500, 400, headwear=("无帽", 0.95))
    assert not decide(HELMETS, [attributed(outside)], GATE).holds


def test_ctyun_helmet_boxes_cover_the_heads_they_sit_on_and_leave_the_bare_one():
    # Given three workers and the seed's two helmet boxes on the first two heads
    workers = recorded("site_three_workers")
    decision = decide(HELMETS, [workers, recorded("ctyun_helmet")], YARD)
    assert decision.fire
    assert [f.box for f in decision.findings] == [workers.persons[2].box]


def test_one_helmet_box_covers_one_head_only():
    # Given two workers close together and one helmet between their heads
    left, right = person(100, 100, 60, 200), person(150, 100, 60, 200)
    helmet = DetectedObject("yellow_hat", Box(130, 100, 40, 30), 0.9)
    answer = AnalysisResult(vendor="ctyun", api="helmet", objects=[helmet])
    decision = decide(HELMETS, [located(left, right), answer], YARD)
    assert len(decision.findings) == 1


def test_the_helmet_answer_decides_over_the_headwear_attribute():
    # Given body_attr reading no hat, and a CTYun helmet box right on that head
    worker = person(100, 100, 60, 200, headwear=("无帽", 0.9))
    helmet = DetectedObject("white_hat", Box(110, 100, 40, 35), 0.95)
    answer = AnalysisResult(vendor="ctyun", api="helmet", objects=[helmet])
    assert not decide(HELMETS, [attributed(worker), answer], YARD).holds


def test_a_bare_head_located_by_two_analyses_is_reported_once():
    worker = person(100, 100, 60, 200, track_id=3)
    answer = AnalysisResult(vendor="ctyun", api="helmet", objects=[])
    decision = decide(HELMETS, [located(worker), tracking(worker), answer], YARD)
    assert len(decision.findings) == 1


def test_a_low_scored_helmet_box_does_not_protect_a_head():
    worker = person(100, 100, 60, 200)
    helmet = DetectedObject("red_hat", Box(110, 100, 40, 35), 0.3)
    answer = AnalysisResult(vendor="ctyun", api="helmet", objects=[helmet])
    assert decide(HELMETS, [located(worker), answer], YARD).fire


def test_helmet_boxes_without_persons_to_match_them_to_are_no_data():
    assert decide(HELMETS, [recorded("ctyun_helmet")], YARD).summary == NO_DATA


def test_bare_head_boxes_fire_on_their_own_when_the_detector_gives_them():
    bare = DetectedObject("no_hat", Box(300, 200, 30, 30), 0.8)
    covered = DetectedObject("blue_hat", Box(100, 100, 30, 30), 0.9)
    answer = AnalysisResult(vendor="ctyun", api="helmet", objects=[covered, bare])
    decision = decide(HELMETS, [answer], YARD)
    assert decision.fire
    assert [f.box for f in decision.findings] == [bare.box]


def test_a_detector_known_to_box_bare_heads_reports_a_compliant_frame():
    rule = replace(HELMETS, params={"no_helmet_classes": ["bare_head"]})
    answer = AnalysisResult(
        vendor="ctyun",
        api="helmet",
        objects=[DetectedObject("blue_hat", Box(100, 100, 30, 30), 0.9)],
    )
    decision = decide(rule, [answer], YARD)
    assert (decision.holds, decision.summary != NO_DATA) == (False, True)


# ---------------------------------------------------------------- workwear_colour


def workwear(*allowed: str) -> RuleConfig:
    return RuleConfig(kind="workwear_colour", params={"allowed_colours": list(allowed)})


def test_a_grey_shirt_fires_where_only_blue_and_orange_are_allowed():
    decision = decide(workwear("blue", "orange"), [baidu("body_attr")], YARD)
    assert decision.fire
    assert decision.summary == "1 person in colours not allowed (grey)"


@pytest.mark.parametrize("allowed", ["灰", "grey", "Gray"])
def test_a_colour_may_be_allowed_in_either_vendors_words_or_english(allowed):
    assert not decide(workwear(allowed), [baidu("body_attr")], YARD).holds


def test_the_ctyun_workwear_example_in_blue_is_allowed_and_fires_where_blue_is_not():
    assert not decide(workwear("blue", "red"), [recorded("ctyun_workwear")], YARD).holds
    decision = decide(workwear("yellow"), [recorded("ctyun_workwear")], YARD)
    assert decision.fire
    assert len(decision.findings) == 2


def test_a_garment_counts_where_its_wearer_stands():
    # Given a red jacket worn by a person standing outside the zone, the jacket's own
    # bottom edge reaching into it
    wearer = person(100, 50, 80, 270)  # feet at (140, 320)
    jacket = DetectedObject("red", Box(105, 150, 70, 60), 0.9)  # bottom centre (140, 210)
    answer = AnalysisResult(vendor="ctyun", api="workwear", objects=[jacket])
    assert not decide(workwear("blue"), [located(wearer), answer], GATE).holds
    assert decide(workwear("blue"), [answer], GATE).fire


def test_min_confidence_filters_a_doubtful_colour_reading():
    rule = replace(workwear("blue"), min_confidence=0.95)
    assert not decide(rule, [baidu("body_attr")], YARD).holds  # 灰 at 0.946


# ---------------------------------------------------------------- crowd


def crowd(limit: int, **params) -> RuleConfig:
    return RuleConfig(kind="crowd", params={"limit": limit, **params})


def test_crowd_counts_body_num_area_counts_for_its_area():
    counted = baidu("body_num", area_counts=[3, 25])
    second = decide(crowd(20, area_index=1), [counted], GATE)
    assert (second.fire, second.count) == (True, 25)
    first = decide(crowd(20), [counted], GATE)
    assert (first.holds, first.count) == (False, 3)


def test_crowd_without_a_region_counts_the_whole_frame_of_the_seed_example():
    decision = decide(crowd(10), [baidu("body_num")], ANYWHERE)  # person_num 16
    assert (decision.fire, decision.count) == (True, 16)
    assert decision.summary == "16 persons (limit 10)"


def test_crowd_cannot_count_a_region_from_a_whole_frame_number():
    assert decide(crowd(10), [baidu("body_num")], GATE).summary == NO_DATA


def test_crowd_counts_foot_points_in_the_polygon_when_body_num_did_not_run():
    people = located(standing_at(150, 150), standing_at(250, 250), standing_at(400, 400))
    assert decide(crowd(1), [people], GATE).fire
    at_limit = decide(crowd(2), [people], GATE)
    assert (at_limit.holds, at_limit.count) == (False, 2)


def test_crowd_does_not_count_the_same_people_twice_when_two_analyses_located_them():
    walkers = [standing_at(150, 150, track_id=1), standing_at(250, 250, track_id=2)]
    decision = decide(crowd(2), [attributed(*walkers), tracking(*walkers)], GATE)
    assert (decision.holds, decision.count) == (False, 2)


# ---------------------------------------------------------------- occupancy and flow


def test_occupancy_sums_ins_and_outs_across_frames():
    rule = RuleConfig(kind="occupancy", params={"capacity": 4, "initial": 1})
    frames = [[tracking(came=2)], [tracking(came=2, went=1)], [tracking(came=1)], [tracking()]]
    decisions, state = run(rule, frames)
    assert [d.count for d in decisions] == [3, 4, 5, 5]
    assert [d.fire for d in decisions] == [False, False, True, True]
    assert (state["ins"], state["outs"]) == (5, 1)


def test_the_seed_example_of_one_person_leaving_lowers_occupancy():
    rule = RuleConfig(kind="occupancy", params={"capacity": 2, "initial": 3})
    decision = decide(rule, [baidu("body_tracking", "body_tracking_one_out")])
    assert (decision.fire, decision.count) == (False, 2)
    assert decision.summary == "occupancy 2 of capacity 2"


def test_occupancy_keeps_counting_crossings_outside_active_hours():
    rule = RuleConfig(
        kind="occupancy", active_start=time(8), active_end=time(17), params={"capacity": 2}
    )
    state = initial_state()
    _, state = evaluate(rule, [tracking(came=3)], None, state, now=datetime(2024, 5, 6, 7, 0))
    decision, _ = evaluate(rule, [tracking()], None, state, now=datetime(2024, 5, 6, 9, 0))
    assert (decision.fire, decision.count) == (True, 3)


def test_flow_fires_on_too_many_arrivals_in_the_window_and_calms_down_after_it():
    rule = RuleConfig(kind="flow", params={"limit_per_window": 4, "window_seconds": 60})
    frames = [[tracking(came=3)], [tracking(came=2)], [tracking()], [tracking()]]
    decisions, state = run(rule, frames, step=40)
    # 0 s: 3; 40 s: 5 (fires); 80 s: the 0 s arrivals left the window; 120 s: none left
    assert [d.count for d in decisions] == [3, 5, 2, 0]
    assert [d.fire for d in decisions] == [False, True, False, False]
    assert state["flow"] == []


def test_flow_can_watch_departures_only():
    rule = RuleConfig(
        kind="flow", params={"limit_per_window": 1, "window_seconds": 60, "direction": "out"}
    )
    assert not decide(rule, [tracking(came=5)]).holds
    assert decide(rule, [tracking(went=2)]).fire


# ---------------------------------------------------------------- fall and fight


def test_the_seed_fall_and_fight_examples_score_too_low_to_fire():
    assert not decide(RuleConfig(kind="fall"), [recorded("ctyun_fall")]).holds
    assert not decide(RuleConfig(kind="fight"), [recorded("ctyun_fight")]).holds


def test_a_fall_fires_at_its_threshold_which_defaults_to_min_confidence():
    assert decide(RuleConfig(kind="fall", min_confidence=0.9), [fall_window(0.93)]).fire
    assert not decide(RuleConfig(kind="fall", min_confidence=0.95), [fall_window(0.93)]).holds
    high = RuleConfig(kind="fall", params={"threshold": 0.95})
    assert not decide(high, [fall_window(0.93)]).holds


def test_a_fight_score_does_not_count_as_a_fall():
    fight = AnalysisResult(vendor="ctyun", api="fight", sequence_score=0.99)
    assert decide(RuleConfig(kind="fall"), [fight]).summary == NO_DATA
    assert decide(RuleConfig(kind="fight"), [fight]).fire


# ---------------------------------------------------------------- smoking, phone, no_mask


def test_the_baidu_example_person_without_a_mask_fires_no_mask_only():
    frame = [baidu("body_attr")]
    assert decide(RuleConfig(kind="no_mask"), frame).fire
    assert not decide(RuleConfig(kind="smoking"), frame).holds  # 未吸烟
    assert not decide(RuleConfig(kind="phone"), frame).holds  # 未使用手机


@pytest.mark.parametrize(
    ("kind", "attribute", "value"),
    [
        ("smoking", "smoke", "吸烟"),
        ("phone", "cellphone", "看手机"),
        ("phone", "cellphone", "打电话"),
        ("no_mask", "face_mask", "无口罩"),
    ],
)
def test_a_person_doing_it_fires_and_an_uncertain_or_doubtful_reading_does_not(
    kind, attribute, value
):
    doing = standing_at(200, 250, **{attribute: (value, 0.8)})
    unsure = standing_at(200, 250, **{attribute: ("不确定", 0.9)})
    doubtful = standing_at(200, 250, **{attribute: (value, 0.4)})
    rule = RuleConfig(kind=kind)
    assert decide(rule, [attributed(doing)], GATE).fire
    assert not decide(rule, [attributed(unsure)], GATE).holds
    assert not decide(rule, [attributed(doubtful)], GATE).holds


def test_driver_behaviours_count_for_smoking_phone_and_no_mask_at_the_vendors_threshold():
    # Given the seed's driver: no_face_mask 0.999 (threshold 0.72), smoke 0.026 (0.25),
    # cellphone 0.089 (0.76)
    frame = [baidu("driver_behavior")]
    assert decide(RuleConfig(kind="no_mask"), frame).fire
    assert not decide(RuleConfig(kind="smoking"), frame).holds
    assert not decide(RuleConfig(kind="phone"), frame).holds
    # When the rule sets its own, lower threshold
    assert decide(RuleConfig(kind="smoking", params={"threshold": 0.02}), frame).fire


# ---------------------------------------------------------------- driver_behaviour


@pytest.mark.parametrize("example", ["driver_behavior", "driver_behavior_one_entry"])
def test_the_seed_driver_shows_the_behaviours_over_their_thresholds(example):
    decision = decide(RuleConfig(kind="driver_behaviour"), [baidu("driver_behavior", example)])
    assert decision.fire
    assert sorted(f.label for f in decision.findings) == [
        "both_hands_leaving_wheel",
        "no_face_mask",
        "not_buckling_up",
        "not_facing_front",
    ]


def test_driver_behaviour_watches_only_the_behaviours_it_names():
    frame = [baidu("driver_behavior")]
    phone_or_smoke = RuleConfig(
        kind="driver_behaviour", params={"behaviours": ["cellphone", "smoke"]}
    )
    assert not decide(phone_or_smoke, frame).holds
    sensitive = RuleConfig(
        kind="driver_behaviour", params={"behaviours": ["cellphone"], "threshold": 0.05}
    )
    decision = decide(sensitive, frame)
    assert decision.fire
    assert decision.summary == "driver: cellphone 0.09"


def test_a_doubtful_driver_box_is_ignored():
    driver = Driver(
        box=Box(0, 0, 100, 100),
        score=0.3,
        behaviours=[DriverBehaviour("yawning", 0.9, 0.5)],
    )
    frame = [AnalysisResult(vendor="baidu", api="driver_behavior", drivers=[driver])]
    assert not decide(RuleConfig(kind="driver_behaviour"), frame).holds
    assert decide(RuleConfig(kind="driver_behaviour", min_confidence=0.2), frame).fire


# ---------------------------------------------------------------- loitering


LOITERING = RuleConfig(kind="loitering", params={"dwell_seconds": 60, "region_name": "Yard"})


def test_a_tracked_person_loiters_after_the_dwell_and_not_before():
    frames = [[tracking(standing_at(200, 250, track_id=7))]] * 4
    decisions, _ = run(LOITERING, frames, GATE, step=30)
    # 0 s, 30 s, 60 s (not longer than 60 s yet), 90 s
    assert [d.fire for d in decisions] == [False, False, False, True]
    assert decisions[-1].findings[0].track_id == 7
    assert decisions[-1].summary == "1 person in 'Yard' for over 60 s"


def test_persons_without_track_ids_are_followed_by_overlap():
    # Given a person detected without ids, drifting a few pixels frame to frame
    frames = [[located(standing_at(200 + 3 * i, 250 + 2 * i))] for i in range(4)]
    decisions, state = run(LOITERING, frames, GATE, step=30)
    assert decisions[-1].fire
    assert len(state["tracks"]) == 1


def test_another_person_in_the_same_place_with_another_id_starts_a_new_dwell():
    first = [[tracking(standing_at(200, 250, track_id=1))]] * 2
    second = [[tracking(standing_at(200, 250, track_id=2))]] * 2
    decisions, _ = run(LOITERING, first + second, GATE, step=30)
    assert not any(d.fire for d in decisions)


def test_leaving_the_zone_restarts_the_dwell():
    inside, outside = standing_at(200, 250, track_id=4), standing_at(450, 250, track_id=4)
    frames = [[tracking(p)] for p in (inside, inside, outside, inside, inside, inside)]
    decisions, _ = run(LOITERING, frames, GATE, step=30)
    # back inside at 90 s: longer than 60 s only at 180 s, after the last frame (150 s)
    assert not any(d.fire for d in decisions)


def test_a_track_that_left_the_picture_is_forgotten():
    # Given a person seen at 0 s and 30 s, then gone longer than forget_after_seconds
    rule = replace(LOITERING, params={**LOITERING.params, "forget_after_seconds": 20})
    here = [located(standing_at(200, 250))]
    decisions, state = run(rule, [here, here, [located()], [located()], here, here], GATE, step=15)
    assert not any(d.fire for d in decisions)
    assert [track["id"] for track in state["tracks"]] == [2]


def test_a_person_missed_for_a_frame_keeps_the_dwell():
    here = [located(standing_at(200, 250))]
    decisions, _ = run(LOITERING, [here, here, [located()], here, here], GATE, step=20)
    assert decisions[-1].fire  # 80 s in the zone, one detection missed at 40 s


def test_loitering_state_carries_over_a_json_round_trip_between_frames():
    state = initial_state()
    for second in (0, 30, 61):
        decision, state = evaluate(
            LOITERING,
            [located(standing_at(200, 250))],
            GATE,
            json.loads(json.dumps(state)),
            now=MONDAY_MORNING + timedelta(seconds=second),
        )
    assert decision.fire
