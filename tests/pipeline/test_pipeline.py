"""The analysis pipeline on recorded normalized results: the on-box analyzer replaced at
the backend boundary (gate and ledger real), HTTP vendors faked with respx."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import httpx
import pytest
import respx
from django.utils import timezone

from alerts.models import Alert, AlertStatus, EventType, LiveEvent, RuleState
from billing import budgets
from billing.metered import close_backends
from billing.models import UsageRecord
from cameras.models import Region, RegionKind
from monitoring import pipeline
from monitoring.analysis_models import (
    AnalysisState,
    FrameAnalysis,
    FrameRun,
    FrameRunStatus,
    RuleEvaluation,
)
from monitoring.backends.base import AnalysisResult, RetryPolicy, ServiceError
from monitoring.models import VendorAccount
from tests.factories import BaiduAccountFactory, CtyunAccountFactory, SiteFactory
from tests.pipeline import (
    FENCE,
    HEIGHT,
    WIDTH,
    RecordedAnalyzer,
    add_analysis,
    add_fence,
    add_rule,
    at,
    install_analyzer,
    make_camera,
    store,
)

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]

BAIDU = "https://aip.baidubce.com"
CTYUN = "https://ai-global.ctapi.ctyun.cn"
CTYUN_FENCE = "/v1/aiop/api/2grpyvxc23uo/ef-http/electron/fence"
CTYUN_FALL = "/v1/aiop/api/2gm0y369n30g/action/falldown/images"
BODY_ATTR = "/rest/2.0/image-classify/v1/body_attr"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_backends(monkeypatch):
    close_backends()
    # Vendor retries happen at once: the tests count requests, not seconds.
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, error, rng=None: 0.0)
    yield
    close_backends()


@pytest.fixture
def analyzer(monkeypatch):
    fake = RecordedAnalyzer()
    install_analyzer(monkeypatch, fake)
    return fake


@pytest.fixture
def camera():
    return make_camera(interval=2.0)


def analyze(frame, delay: float = 0.1, **kwargs):
    """Run the pipeline on ``frame`` as a worker would ``delay`` seconds after capture."""
    return pipeline.analyze_frame(
        frame.pk, now=frame.captured_at + timedelta(seconds=delay), **kwargs
    )


def events_of(kind: str) -> list[dict]:
    return [event.payload for event in LiveEvent.objects.filter(type=kind).order_by("id")]


# ---------------------------------------------------------------- alerts


def test_while_the_condition_holds_the_rule_state_says_when_it_was_seen_to_within_seconds(
    camera, analyzer
):
    # Given a fence rule whose condition holds on frames two seconds apart
    fence = add_fence(camera)
    rule = add_rule(camera, region=fence, consecutive_frames=2)
    add_analysis(camera, "persons", interval=2.0)
    seen = []
    for seconds in (0, 2, 4, 6, 8, 10):
        analyze(store(camera, seconds))
        seen.append(RuleState.objects.get(rule=rule).last_seen_at)

    # Then "last seen" moves whenever the state changes (the first two frames count up)
    # and otherwise at most every STATE_SEEN_EVERY_SECONDS
    assert pipeline.STATE_SEEN_EVERY_SECONDS == 5
    assert seen == [at(0), at(2), at(2), at(2), at(8), at(8)]
    assert RuleState.objects.get(rule=rule).consecutive == 2


def test_given_a_person_in_the_fence_when_two_frames_in_a_row_show_it_then_one_alert_opens(
    camera, analyzer
):
    # Given a fence with a rule that needs two frames in a row, and persons analysed
    fence = add_fence(camera)
    rule = add_rule(camera, region=fence, consecutive_frames=2)
    add_analysis(camera, "persons", interval=2.0)

    # When the first frame shows the third worker inside the fence
    first = analyze(store(camera, 0))

    # Then nothing opens yet, but the rule counts one frame
    assert first.status == "analyzed"
    assert first.decisions[rule.pk].holds and not first.decisions[rule.pk].fire
    assert Alert.objects.count() == 0
    assert RuleState.objects.get(rule=rule).consecutive == 1

    # When the second and third frames show it too
    second = analyze(store(camera, 2))
    third = analyze(store(camera, 4))

    # Then exactly one alert is open, updated by the third frame
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.OPEN and alert.kind == "fence_intrusion"
    assert alert.region_id == fence.pk and alert.count == 2
    assert second.alerts == [alert.pk] and third.alerts == [alert.pk]
    assert alert.vendor_calls and alert.vendor_calls[0]["request_id"].startswith(
        f"frame-{second.frame_id}:analysis-"
    )
    # And every analysed frame went to the browsers with its boxes, regions and problems
    overlays = events_of(EventType.FRAME_ANALYZED)
    assert [overlay["frame"] for overlay in overlays] == [
        first.frame_id,
        second.frame_id,
        third.frame_id,
    ]
    last = overlays[-1]
    assert last["frame_size"] == [WIDTH, HEIGHT] and last["frame_url"]
    assert len(last["persons"]) == 3
    assert last["regions"][0]["kind"] == "fence" and len(last["regions"][0]["points"]) == 4
    (problem,) = last["problems"]
    assert problem["rule"] == rule.pk and problem["alert"] == alert.pk
    assert problem["findings"][0]["label"] == "person inside fence"


def test_given_fence_and_persons_analyses_when_both_run_then_each_call_is_one_ledger_row(
    camera, analyzer
):
    # Given the on-box fence (on the fence region) and persons
    fence = add_fence(camera)
    add_rule(camera, region=fence, consecutive_frames=1)
    add_analysis(camera, "fence", interval=2.0)
    add_analysis(camera, "persons", interval=2.0)

    # When one frame is analysed
    outcome = analyze(store(camera, 0))

    # Then each analysis made one recorded call, the fence one with the region's polygon
    assert sorted(call[0] for call in analyzer.calls) == ["fence", "persons"]
    (fence_call,) = analyzer.calls_of("fence")
    assert fence_call[2]["area"] == [tuple(point) for point in FENCE]
    assert UsageRecord.objects.filter(camera_id=camera.pk).count() == 2
    assert Alert.objects.count() == 1
    assert {item.status for item in outcome.analyses} == {"done"}


# ---------------------------------------------------------------- the gate


def test_given_a_frame_older_than_its_camera_interval_then_it_is_dropped_with_no_ledger_row(
    camera, analyzer
):
    # Given a camera sampled every 2 s, with an analysis and a rule
    fence = add_fence(camera)
    add_rule(camera, region=fence, consecutive_frames=1)
    add_analysis(camera, "persons")
    frame = store(camera, 0)

    # When its task starts 2.5 s after the frame was taken
    outcome = analyze(frame, delay=2.5)

    # Then the frame is dropped, and why is kept; no vendor call, no ledger row, no alert
    assert outcome.status == "dropped" and "stale" in outcome.reason
    run = FrameRun.objects.get(frame=frame)
    assert run.status == FrameRunStatus.DROPPED and "2.50 s" in run.reason
    assert analyzer.calls == []
    assert UsageRecord.objects.count() == 0
    assert Alert.objects.count() == 0 and not events_of(EventType.FRAME_ANALYZED)

    # And running it again later keeps it dropped
    assert analyze(frame, delay=1.0).status == "dropped"
    assert analyzer.calls == []


def test_given_a_disabled_camera_when_its_frame_is_analysed_then_it_is_dropped(camera, analyzer):
    add_analysis(camera, "persons")
    frame = store(camera, 0)
    camera.enabled = False
    camera.save()

    outcome = analyze(frame)

    assert outcome.status == "dropped" and outcome.reason == "the camera is disabled"
    assert analyzer.calls == []


def test_given_a_paused_budget_when_a_frame_comes_then_it_is_dropped_with_the_budget_reason(
    camera, analyzer, monkeypatch
):
    add_analysis(camera, "persons")
    monkeypatch.setattr(budgets, "should_analyze", lambda camera_id, number: False)
    monkeypatch.setattr(budgets, "pause_reason", lambda camera_id: "the monthly budget is used up")

    outcome = analyze(store(camera, 0))

    assert outcome.status == "dropped" and outcome.reason == "the monthly budget is used up"
    assert analyzer.calls == [] and UsageRecord.objects.count() == 0


# ---------------------------------------------------------------- intervals and windows


def test_given_analyses_with_their_own_intervals_then_each_runs_at_its_own_pace(camera, analyzer):
    # Given persons every 2 s and a crowd count every 6 s, on a crowd region
    crowd = Region.objects.create(
        camera=camera,
        name="Gate",
        kind=RegionKind.CROWD,
        points=[[0, 0], [639, 0], [639, 479], [0, 479]],
        frame_width=WIDTH,
        frame_height=HEIGHT,
    )
    add_rule(camera, kind="crowd", region=crowd, params={"limit": 2}, consecutive_frames=1)
    add_analysis(camera, "persons", interval=2.0)
    add_analysis(camera, "body_num", interval=6.0)

    # When frames come at 0, 2, ..., 12 s (a little late, as capture delivers them)
    for second in range(0, 13, 2):
        analyze(store(camera, second + 0.03 * (second % 3)))

    # Then persons ran on every frame, body_num on the frames at 0, 6 and 12 s
    assert len(analyzer.calls_of("persons")) == 7
    counted = analyzer.calls_of("body_num")
    assert len(counted) == 3
    # With the crowd region as its area, kept from pixel 1 as Baidu's body_num wants
    assert counted[0][2]["area"] == [[(1, 1), (639, 1), (639, 479), (1, 479)]]
    frames = FrameAnalysis.objects.filter(api="body_num").order_by("frame__captured_at")
    assert [round((row.frame.captured_at - at(0)).total_seconds()) for row in frames] == [0, 6, 12]
    # And the crowd rule, evaluated on every analysed frame, opened one alert
    assert RuleEvaluation.objects.count() == 7
    assert Alert.objects.filter(kind="crowd").count() == 1


@pytest.fixture
def ctyun():
    return CtyunAccountFactory(
        name="CTYun", free_quota_claimed_at=timezone.now() - timedelta(hours=2)
    )


def _ctyun_fence_answer(request: httpx.Request) -> httpx.Response:
    images = json.loads(request.content)["image"]
    result = [
        {"target_num": 1, "location": [{"left": 400, "top": 50, "width": 90, "height": 300}]}
        for _image in images
    ]
    return httpx.Response(
        200,
        json={"code": 0, "message": {"success": len(images), "fail": 0}, "result": result},
    )


def test_given_a_ctyun_fence_every_40_s_then_it_sends_the_frames_since_its_last_call_up_to_32(
    ctyun,
):
    # Given a camera sampled every second with CTYun's fence every 40 s
    camera = make_camera(interval=1.0)
    fence = add_fence(camera)
    add_rule(camera, region=fence, consecutive_frames=1)
    add_analysis(camera, "fence", ctyun, interval=40.0)

    with respx.mock(base_url=CTYUN, assert_all_called=True) as vendor:
        route = vendor.post(CTYUN_FENCE).mock(side_effect=_ctyun_fence_answer)

        # When 41 frames come, one a second
        frames = [store(camera, second) for second in range(41)]
        for frame in frames:
            analyze(frame)

    # Then two requests went out: the first frame alone, then the 32 latest frames
    sent = [json.loads(call.request.content) for call in route.calls]
    assert [len(body["image"]) for body in sent] == [1, 32]
    assert sent[1]["area"] == ",".join(f"{x},{y}" for x, y in FENCE)
    last = FrameAnalysis.objects.get(frame=frames[-1])
    assert last.window == [frame.pk for frame in frames[9:]]
    # And each request is one ledger row carrying its images
    assert list(UsageRecord.objects.order_by("id").values_list("images", flat=True)) == [1, 32]
    # And the rule read each answer (the last frame of its window): one alert, seen twice
    assert Alert.objects.get().count == 2
    assert RuleEvaluation.objects.get(frame=frames[-1]).holds


def test_given_a_ctyun_fall_analysis_then_it_sends_its_window_of_consecutive_frames(
    ctyun,
):
    camera = make_camera(interval=1.0)
    add_rule(camera, kind="fall", consecutive_frames=1, params={"threshold": 0.5})
    add_analysis(camera, "fall", ctyun, interval=1.0, window=16)

    with respx.mock(base_url=CTYUN) as vendor:
        route = vendor.post(CTYUN_FALL).respond(
            json={"code": 0, "message": "success", "result": {"score": 0.9}}
        )
        frames = [store(camera, second) for second in range(20)]
        for frame in frames:
            analyze(frame)

    sizes = [len(json.loads(call.request.content)["images"]) for call in route.calls]
    assert sizes == [*range(1, 17), 16, 16, 16, 16]
    assert FrameAnalysis.objects.get(frame=frames[-1]).window == [f.pk for f in frames[4:]]
    assert Alert.objects.filter(kind="fall").count() == 1


# ---------------------------------------------------------------- running again


def test_given_an_analysed_frame_when_run_again_then_no_vendor_is_called_and_no_counter_moves(
    camera, analyzer
):
    # Given two analysed frames: a rule counted both and opened an alert
    fence = add_fence(camera)
    rule = add_rule(camera, region=fence, consecutive_frames=2)
    add_analysis(camera, "persons")
    analyze(store(camera, 0))
    frame = store(camera, 2)
    analyze(frame)
    calls, ledger = len(analyzer.calls), UsageRecord.objects.count()
    alert = Alert.objects.get()
    state = RuleState.objects.get(rule=rule)

    # When the second frame runs again, finished or cut short after its work was done
    again = analyze(frame, delay=30)
    FrameRun.objects.filter(frame=frame).update(status=FrameRunStatus.ANALYZING)
    cut_short = analyze(frame, delay=120)

    # Then no vendor call, no ledger row, no counter moved, the same single alert
    assert len(analyzer.calls) == calls and UsageRecord.objects.count() == ledger
    assert all(item.reused for item in again.analyses + cut_short.analyses)
    assert again.decisions == {} and cut_short.decisions == {}
    assert RuleState.objects.get(rule=rule).state == state.state
    assert RuleEvaluation.objects.filter(frame=frame).count() == 1
    alert.refresh_from_db()
    assert (Alert.objects.count(), alert.count) == (1, 1)
    # And the run records each start under its own delivery number
    assert FrameRun.objects.get(frame=frame).deliveries == 3
    assert (again.delivery, cut_short.delivery) == (2, 3)


def test_given_a_run_that_died_mid_call_when_run_again_then_it_calls_under_a_new_delivery(
    camera, analyzer
):
    # Given a frame whose first run claimed its analysis, then died before storing it
    add_analysis(camera, "persons")
    frame = store(camera, 0)
    analyze(frame)
    row = FrameAnalysis.objects.get(frame=frame)
    first_ids = [call["request_id"] for call in row.calls]
    FrameAnalysis.objects.filter(pk=row.pk).update(status="pending", result=None, calls=[])
    FrameRun.objects.filter(frame=frame).update(status=FrameRunStatus.ANALYZING)

    # When it is delivered again, two minutes later
    outcome = analyze(frame, delay=120)

    # Then the request it really sends is recorded under the new delivery, the first kept
    assert len(analyzer.calls) == 2
    ids = sorted(UsageRecord.objects.values_list("request_id", flat=True))
    assert ids == sorted(
        [*first_ids, f"frame-{frame.pk}:analysis-{row.analysis_id}:delivery-2:persons:0:1"]
    )
    assert first_ids == [f"frame-{frame.pk}:analysis-{row.analysis_id}:delivery-1:persons:0:1"]
    assert outcome.analyses[0].status == "done" and not outcome.analyses[0].reused


def test_given_a_run_that_died_when_it_comes_back_after_the_redelivery_limit_then_it_is_dropped(
    camera, analyzer
):
    add_analysis(camera, "persons")
    frame = store(camera, 0)
    analyze(frame)
    FrameAnalysis.objects.update(status="pending", result=None)
    FrameRun.objects.filter(frame=frame).update(status=FrameRunStatus.ANALYZING)

    outcome = analyze(frame, delay=pipeline.REDELIVERED_MAX_AGE_SECONDS + 60)

    assert outcome.status == "dropped" and "too late" in outcome.reason
    assert len(analyzer.calls) == 1


def test_given_runs_whose_worker_died_then_they_are_dropped_and_a_late_delivery_finds_them_so(
    camera, analyzer
):
    add_analysis(camera, "persons")
    abandoned, recent, finished = (store(camera, n) for n in range(3))
    for frame in (abandoned, recent, finished):
        analyze(frame)
    # Given two runs cut short (their worker died), one long ago, one lately
    unfinished = [abandoned, recent]
    FrameAnalysis.objects.filter(frame__in=unfinished).update(status="pending", result=None)
    FrameRun.objects.filter(frame__in=unfinished).update(status=FrameRunStatus.ANALYZING)
    now = timezone.now()
    FrameRun.objects.filter(frame=abandoned).update(
        started_at=now - timedelta(seconds=pipeline.ABANDONED_AFTER_SECONDS + 1)
    )
    FrameRun.objects.filter(frame=recent).update(
        started_at=now - timedelta(seconds=pipeline.ABANDONED_AFTER_SECONDS - 30)
    )
    FrameRun.objects.filter(frame=finished).update(started_at=now - timedelta(hours=1))

    # When the periodic sweep runs
    assert pipeline.close_abandoned_runs(now) == 1

    # Then only the run left unfinished too long is dropped, with the reason
    runs = {run.frame_id: run for run in FrameRun.objects.all()}
    assert runs[abandoned.pk].status == FrameRunStatus.DROPPED
    assert "its worker stopped" in runs[abandoned.pk].reason
    assert runs[abandoned.pk].finished_at == now
    assert runs[recent.pk].status == FrameRunStatus.ANALYZING
    assert runs[finished.pk].status == FrameRunStatus.ANALYZED
    # And the task given back an hour later sends nothing for it
    calls = len(analyzer.calls)
    outcome = analyze(abandoned, delay=3600)
    assert outcome.status == "dropped" and "its worker stopped" in outcome.reason
    assert len(analyzer.calls) == calls


# ---------------------------------------------------------------- vendor failures


@pytest.fixture
def baidu():
    return BaiduAccountFactory(name="Baidu")


@pytest.fixture
def baidu_down():
    with respx.mock(base_url=BAIDU, assert_all_called=False) as vendor:
        vendor.get("/oauth/2.0/token").respond(
            json={"access_token": "24.token", "expires_in": 2592000, "scope": "brain_all_scope"}
        )
        yield vendor.post(BODY_ATTR).mock(side_effect=httpx.ConnectError("connection refused"))


def test_given_a_vendor_down_then_the_circuit_opens_the_camera_is_unavailable_and_no_alert_opens(
    camera, baidu, baidu_down
):
    # Given a Baidu body_attr analysis and a fence rule that fires on one frame
    fence = add_fence(camera)
    add_rule(camera, region=fence, consecutive_frames=1)
    analysis = add_analysis(camera, "body_attr", baidu, interval=2.0)

    # When 8 frames come while Baidu refuses every connection
    outcomes = [analyze(store(camera, 2 * number)) for number in range(8)]

    # Then after 5 failed requests (4 attempts, then 1) the circuit is open: no more sent,
    # and the pipeline waits the breaker's cooldown (its retry_after) before calling again
    assert baidu_down.call_count == 5
    assert outcomes[1].analyses[0].error_code == "circuit"
    assert all(o.analyses == [] for o in outcomes[2:])
    assert {o.analyses[0].status for o in outcomes[:2]} == {"unavailable"}
    # Each request that left is one ledger row
    assert UsageRecord.objects.filter(outcome="transport_error").count() == 5
    # The camera shows "analysis unavailable", said once to the browsers, with the reason
    state = AnalysisState.objects.get(analysis=analysis)
    assert not state.available and "The vendor does not answer" in state.reason
    assert state.health == "failing"
    (status,) = events_of(EventType.CAMERA_STATUS)
    assert status["analysis"] == "unavailable" and "body_attr" in status["analysis_reason"]
    assert pipeline.analysis_status(camera)["analysis"] == "unavailable"
    # And no alert opened: the rule had no data, which is not a finding
    assert Alert.objects.count() == 0
    assert all(outcome.decisions == {} for outcome in outcomes)


def test_given_an_unavailable_analysis_when_its_vendor_answers_then_it_is_available_again(
    camera, monkeypatch
):
    class Flaky(RecordedAnalyzer):
        failures = 1

        def analyze(self, api, images, params=None):
            if self.failures:
                self.failures -= 1
                raise ServiceError("busy", vendor="local", api=api)
            return super().analyze(api, images, params)

    install_analyzer(monkeypatch, Flaky())
    analysis = add_analysis(camera, "persons")

    assert analyze(store(camera, 0)).analyses[0].status == "unavailable"
    assert analyze(store(camera, 2)).analyses[0].status == "done"

    assert AnalysisState.objects.get(analysis=analysis).available
    statuses = [event["analysis"] for event in events_of(EventType.CAMERA_STATUS)]
    assert statuses == ["unavailable", "available"]


def test_given_an_open_alert_when_the_vendor_goes_down_then_the_alert_does_not_resolve_by_itself(
    camera, monkeypatch
):
    class Dying(RecordedAnalyzer):
        down = False

        def analyze(self, api, images, params=None):
            if self.down:
                raise ServiceError("down", vendor="local", api=api)
            return super().analyze(api, images, params)

    fake = Dying()
    install_analyzer(monkeypatch, fake)
    fence = add_fence(camera)
    add_rule(camera, region=fence, consecutive_frames=1, clear_after_seconds=5)
    add_analysis(camera, "persons")
    analyze(store(camera, 0))
    fake.down = True

    for second in range(2, 40, 2):
        analyze(store(camera, second))

    assert pipeline.resolve_stale_alerts(now=at(60)) == 0
    assert Alert.objects.get().status == AlertStatus.OPEN


def test_given_an_open_alert_across_a_restart_then_downtime_does_not_resolve_it(
    camera, monkeypatch
):
    # Given an alert opened by a worker inside the fence (clear after 30 s)
    fake = RecordedAnalyzer()
    install_analyzer(monkeypatch, fake)
    fence = add_fence(camera)
    add_rule(camera, region=fence, consecutive_frames=1, clear_after_seconds=30)
    add_analysis(camera, "persons")
    analyze(store(camera, 0))
    assert Alert.objects.get().status == AlertStatus.OPEN
    # When the product was stopped for ten minutes and the resolver runs after the restart
    assert pipeline.resolve_stale_alerts(now=at(600)) == 0
    # Then the alert is still open: no frame was analysed, so nothing was seen clear
    assert Alert.objects.get().status == AlertStatus.OPEN
    # When frames are analysed again, without anyone in the fence, for the clear time
    fake.persons = AnalysisResult(vendor="local", api="persons", frame_width=WIDTH)
    for second in range(600, 634, 2):
        analyze(store(camera, second))
    pipeline.resolve_stale_alerts(now=at(634))
    # Then it resolves by itself
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.resolved_at >= at(630)


def test_given_a_permanent_vendor_error_then_it_is_logged_with_its_code_and_not_retried(
    camera, baidu, caplog
):
    add_analysis(camera, "body_attr", baidu)
    with respx.mock(base_url=BAIDU) as vendor:
        vendor.get("/oauth/2.0/token").respond(
            json={"access_token": "24.token", "expires_in": 2592000, "scope": "brain_all_scope"}
        )
        route = vendor.post(BODY_ATTR).respond(
            json={"error_code": 216201, "error_msg": "image format error", "log_id": 1}
        )
        with caplog.at_level(logging.ERROR, logger="monitoring.pipeline"):
            outcome = analyze(store(camera, 0))

    assert route.call_count == 1
    (result,) = outcome.analyses
    assert (result.status, result.error_code) == ("failed", "216201")
    assert "vendor code 216201" in caplog.text


# ---------------------------------------------------------------- frame pixels
# Results are scaled to pixels of the stored frame once, right after the vendor answers: a
# frame larger than the vendor's limit is sent shrunk, and what the live wall draws, what
# is stored and what the rules read are all in pixels of the frame itself.

# Larger than Baidu's 4096 px longest side (images.BAIDU): sent at 4096x2048, scale 0.8.
FRAME = (5120, 2560)
# Where Baidu sees the person, in pixels of the 4096x2048 image it was sent ...
SENT_BOX = {"left": 400, "top": 200, "width": 80, "height": 160}
# ... and where that person is in the stored frame.
FRAME_BOX = {"left": 500.0, "top": 250.0, "width": 100.0, "height": 200.0}


def _body_attr_answer() -> dict:
    return {
        "log_id": 1,
        "person_num": 1,
        "person_info": [
            {
                "location": {**SENT_BOX, "score": 0.95},
                "attributes": {"is_human": {"name": "正常人体", "score": 0.99}},
            }
        ],
    }


def test_a_frame_shrunk_for_the_vendor_is_drawn_stored_and_judged_in_its_own_pixels(camera, baidu):
    # Given a Baidu body_attr analysis and a fence drawn on the 5120x2560 picture around
    # the person's feet in frame pixels (550, 450); in pixels of the image sent the feet
    # are at (440, 360), outside it
    fence = Region.objects.create(
        camera=camera,
        name="Yard",
        kind=RegionKind.FENCE,
        points=[[500, 400], [700, 400], [700, 600], [500, 600]],
        frame_width=FRAME[0],
        frame_height=FRAME[1],
    )
    add_rule(camera, region=fence, consecutive_frames=1)
    add_analysis(camera, "body_attr", baidu)

    # When a 5120x2560 frame is analysed
    with respx.mock(base_url=BAIDU) as vendor:
        vendor.get("/oauth/2.0/token").respond(
            json={"access_token": "24.token", "expires_in": 2592000, "scope": "brain_all_scope"}
        )
        route = vendor.post(BODY_ATTR).respond(json=_body_attr_answer())
        frame = store(camera, 0, *FRAME)
        analyze(frame)
    assert route.call_count == 1

    # Then the live overlay's box is in pixels of the frame, not of the image sent
    (event,) = LiveEvent.objects.filter(type=EventType.FRAME_ANALYZED)
    (person,) = event.payload["persons"]
    assert person["box"] == FRAME_BOX
    # and so is the stored result
    stored = FrameAnalysis.objects.get(frame=frame).result
    assert (stored["frame_width"], stored["frame_height"]) == FRAME
    assert stored["persons"][0]["box"] == FRAME_BOX
    # and the fence rule read the person inside the fence: one alert, drawn where it is
    alert = Alert.objects.get()
    assert alert.rule.region_id == fence.pk
    assert event.payload["problems"][0]["findings"][0]["box"] == FRAME_BOX


# ---------------------------------------------------------------- demo data


def test_given_the_demo_cameras_when_the_demo_hook_runs_twice_then_analyses_and_rules_exist_once():
    from cameras.demo_data import add_demo_cameras
    from monitoring.demo_data import add_demo_analyses

    site = SiteFactory(name="Demo")
    out = io.StringIO()
    for _run in range(2):
        add_demo_cameras(site, out)
        add_demo_analyses(site, out)

    assert VendorAccount.objects.filter(vendor="local").count() == 1
    cameras = site.cameras.all()
    assert cameras.count() == 2
    for demo_camera in cameras:
        assert sorted(demo_camera.analyses.values_list("api", flat=True)) == ["fence", "persons"]
        rules = {rule.kind: rule for rule in demo_camera.rules.all()}
        assert set(rules) == {"fence_intrusion", "crowd"}
        assert rules["fence_intrusion"].consecutive_frames == 2
        assert rules["fence_intrusion"].region.kind == "fence"
