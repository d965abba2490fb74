"""Rules on hands, gestures and posture (alerts/body_rules.py), on the Baidu seed's example
answers through the client's normalizer (the answers the sandbox replays) and on on-box
keypoints: a hand in a danger zone, a help gesture, a person down."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from alerts.body_rules import GESTURE_CLASSES
from alerts.rule_params import params_errors
from alerts.rules import NO_DATA, RuleConfig, evaluate, initial_state
from monitoring.backends import keypoints
from monitoring.backends.base import AnalysisResult, Box, Keypoint, Person
from monitoring.backends.onbox import detector

from . import MONDAY_MORNING, attributed, baidu, located, rectangle, standing_at

# The seed's hand_analysis / fingertip example: one hand, box (567, 151) 426x556, its index
# fingertip ("0") at (829, 707).
PRESS = rectangle(800, 650, 900, 760)  # holds the fingertip
ELSEWHERE = rectangle(0, 0, 300, 100)
# The seed's body_analysis example: two persons, the first's left wrist at (884.4, 374.7).
FIRST_LEFT_WRIST = rectangle(860, 350, 910, 400)


def decide(rule, results, region=None, state=None, now=MONDAY_MORNING):
    decision, _ = evaluate(rule, results, region, state or initial_state(), now=now)
    return decision


def run(rule, frames, region):
    state, decisions = initial_state(), []
    for index, results in enumerate(frames):
        now = MONDAY_MORNING + timedelta(seconds=index)
        decision, state = evaluate(rule, results, region, state, now=now)
        decisions.append(decision)
    return decisions


def lying(result: AnalysisResult) -> AnalysisResult:
    """``result`` turned a quarter round (x and y swapped): standing bodies lie down."""

    def turned(person: Person) -> Person:
        box = person.box
        return replace(
            person,
            box=Box(box.top, box.left, box.height, box.width),
            keypoints=[replace(p, x=p.y, y=p.x) for p in person.keypoints],
        )

    return replace(result, persons=[turned(p) for p in result.persons])


# ---------------------------------------------------------------- hand in a danger zone


@pytest.mark.parametrize("api", ["hand_analysis", "fingertip"])
def test_a_hand_point_in_the_danger_zone_fires_with_the_points_inside(api):
    rule = RuleConfig("hand_in_danger", params={"region_name": "Press 2"})
    decision = decide(rule, [baidu(api)], PRESS)
    assert decision.fire and decision.holds
    assert decision.count == 1
    (finding,) = decision.findings
    assert finding.label == "hand in danger zone"
    assert finding.box == Box(567, 151, 426, 556)
    assert finding.points == ((829, 707),)
    assert decision.summary == "1 hand in 'Press 2'"


@pytest.mark.parametrize("api", ["hand_analysis", "fingertip"])
def test_a_hand_outside_the_danger_zone_is_seen_and_clear(api):
    decision = decide(RuleConfig("hand_in_danger"), [baidu(api)], ELSEWHERE)
    assert not decision.holds and decision.findings == ()
    assert decision.summary == "no hand in the danger zone"


def test_a_hand_less_sure_than_the_minimum_confidence_does_not_count():
    # hand_analysis scores 0-21 (`手部关键点识别` > `返回参数`): the example's 17.5 is 0.83
    sure = decide(RuleConfig("hand_in_danger", min_confidence=0.8), [baidu("hand_analysis")], PRESS)
    unsure = decide(
        RuleConfig("hand_in_danger", min_confidence=0.85), [baidu("hand_analysis")], PRESS
    )
    assert sure.holds and not unsure.holds


def test_hand_points_scored_too_low_are_not_used():
    hand = baidu("fingertip")
    weak = replace(
        hand,
        objects=[
            replace(obj, keypoints=[replace(p, score=0.1) for p in obj.keypoints])
            for obj in hand.objects
        ],
    )
    assert decide(RuleConfig("hand_in_danger"), [hand], PRESS).holds
    assert not decide(RuleConfig("hand_in_danger"), [weak], PRESS).holds


def test_a_wrist_of_body_analysis_in_the_danger_zone_fires():
    decision = decide(RuleConfig("hand_in_danger"), [baidu("body_analysis")], FIRST_LEFT_WRIST)
    assert decision.fire
    (finding,) = decision.findings
    assert finding.points == ((884.375, 374.71875),)
    assert finding.box.left == pytest.approx(294.03, abs=0.01)


def test_an_elbow_or_a_head_in_the_danger_zone_is_no_hand():
    # the first person's left elbow is at (791.8, 361.5), the nose at (620, 295.4)
    elbow_and_nose = rectangle(600, 280, 800, 370)
    decision = decide(RuleConfig("hand_in_danger"), [baidu("body_analysis")], elbow_and_nose)
    assert not decision.holds


def test_on_box_wrists_count_as_hands():
    worker = replace(
        standing_at(200, 400, height=200),
        keypoints=[
            Keypoint("left_wrist", 250, 300, 0.6),
            Keypoint("right_wrist", 150, 300, 0.6),
            Keypoint("left_elbow", 240, 260, 0.9),
        ],
    )
    press = rectangle(230, 280, 300, 320)
    decision = decide(RuleConfig("hand_in_danger"), [located(worker)], press)
    assert decision.holds and decision.findings[0].points == ((250, 300),)


def test_hand_in_danger_fires_after_n_frames_and_a_frame_without_hands_keeps_the_run():
    rule = RuleConfig("hand_in_danger", consecutive_frames=3)
    hand, attributes_only = [baidu("fingertip")], [attributed(standing_at(100, 100))]
    decisions = run(rule, [hand, hand, attributes_only, hand], PRESS)
    assert [d.fire for d in decisions] == [False, False, False, True]
    assert decisions[2].summary == NO_DATA


def test_a_hand_leaving_the_zone_breaks_the_run():
    rule = RuleConfig("hand_in_danger", consecutive_frames=2)
    inside, outside = [baidu("fingertip")], [baidu("fingertip", hand_info=[])]
    decisions = run(rule, [inside, outside, inside, inside], PRESS)
    assert [d.fire for d in decisions] == [False, False, False, True]


def test_hands_found_by_two_apis_are_not_counted_twice():
    decision = decide(
        RuleConfig("hand_in_danger"), [baidu("hand_analysis"), baidu("fingertip")], PRESS
    )
    assert decision.count == 1


def test_hand_in_danger_outside_its_active_hours_does_not_fire():
    rule = RuleConfig("hand_in_danger", active_days=frozenset({5, 6}))  # weekends
    decision = decide(rule, [baidu("fingertip")], PRESS)
    assert decision.holds and not decision.active and not decision.fire


# ---------------------------------------------------------------- help gesture


def test_the_chosen_gesture_in_the_zone_fires():
    # the seed's gesture example: a Face (0.98) and a Heart_2 (0.47) at (183, 157) 177x106
    rule = RuleConfig("help_gesture", min_confidence=0.4, params={"gestures": ["Heart_2"]})
    decision = decide(rule, [baidu("gesture")], rectangle(200, 150, 350, 300))
    assert decision.fire
    (finding,) = decision.findings
    assert finding.label == "gesture Heart_2" and finding.box == Box(183, 157, 177, 106)
    assert decision.summary == "help gesture Heart_2"


def test_gesture_names_compare_without_case():
    # the seed writes OK as "OK" in one table and "Ok" in another
    rule = RuleConfig("help_gesture", min_confidence=0.4, params={"gestures": ["heart_2"]})
    assert decide(rule, [baidu("gesture")]).fire


def test_by_default_only_an_open_palm_calls_for_help():
    heart = decide(RuleConfig("help_gesture", min_confidence=0.4), [baidu("gesture")])
    palm = decide(
        RuleConfig("help_gesture", min_confidence=0.4),
        [baidu("gesture", result=[{**baidu_item("Five"), "probability": 0.9}])],
    )
    assert not heart.holds and heart.summary == "no help gesture"
    assert palm.fire and palm.findings[0].label == "gesture Five"


def baidu_item(classname: str) -> dict:
    return {"classname": classname, "left": 100, "top": 100, "width": 50, "height": 60}


def test_a_gesture_outside_the_zone_or_unsure_does_not_count():
    rule = RuleConfig("help_gesture", min_confidence=0.5, params={"gestures": ["Heart_2"]})
    assert not decide(rule, [baidu("gesture")]).holds  # 0.47 < 0.5
    rule = replace(rule, min_confidence=0.4)
    assert not decide(rule, [baidu("gesture")], ELSEWHERE).holds


def test_a_gesture_held_for_n_frames_fires_and_other_answers_are_no_data():
    rule = RuleConfig(
        "help_gesture", min_confidence=0.4, consecutive_frames=2, params={"gestures": ["Heart_2"]}
    )
    gesture, hands = [baidu("gesture")], [baidu("fingertip")]
    decisions = run(rule, [gesture, hands, gesture], None)
    assert [d.fire for d in decisions] == [False, False, True]
    assert decisions[1].summary == NO_DATA


def test_help_gestures_are_checked_against_the_seed_list():
    assert params_errors("help_gesture", {"gestures": ["Five", "Palm_up"]}) == {}
    assert "wave" in params_errors("help_gesture", {"gestures": ["wave"]})["gestures"]
    assert len(GESTURE_CLASSES) == 24


# ---------------------------------------------------------------- person down


def test_the_seed_example_standing_persons_are_not_down():
    decision = decide(RuleConfig("person_down"), [baidu("body_analysis")])
    assert not decision.holds and decision.summary == "no one down"


def test_persons_lying_fire_person_down():
    decision = decide(
        RuleConfig("person_down", params={"region_name": "Hall"}),
        [lying(baidu("body_analysis"))],
    )
    assert decision.fire and decision.count == 2
    assert decision.summary == "2 persons down in 'Hall'"


def test_person_down_counts_only_feet_in_the_zone():
    result = lying(baidu("body_analysis"))
    first = result.persons[0].box
    zone = rectangle(first.left, first.bottom - 10, first.right, first.bottom + 10)
    decision = decide(RuleConfig("person_down"), [result], zone)
    assert decision.count == 1


def test_person_down_needs_keypoints():
    boxes_only = decide(RuleConfig("person_down"), [attributed(standing_at(100, 100))])
    assert boxes_only.summary == NO_DATA


def test_person_down_held_for_n_frames():
    rule = RuleConfig("person_down", consecutive_frames=2)
    down, up = [lying(baidu("body_analysis"))], [baidu("body_analysis")]
    decisions = run(rule, [down, up, down, down], None)
    assert [d.fire for d in decisions] == [False, False, False, True]


def test_on_box_posture_and_the_rule_read_the_same_math():
    assert detector.posture is keypoints.posture
    lying_pose = [
        Keypoint("left_shoulder", 100, 210, 0.8),
        Keypoint("right_shoulder", 100, 190, 0.8),
        Keypoint("left_hip", 160, 208, 0.8),
        Keypoint("right_hip", 160, 192, 0.8),
    ]
    body = Person(box=Box(60, 180, 200, 40), score=0.7, keypoints=lying_pose)
    decision = decide(RuleConfig("person_down"), [located(body)])
    assert decision.fire and keypoints.posture(lying_pose, body.box) == keypoints.DOWN
