"""Baidu people flow (``body_tracking``) through the real pipeline against the live
sandbox: the analysis' own integer ``case_id``, ``case_init`` on its first frame and after
a gap, and the in/out counts feeding the flow and occupancy rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings

from billing.metered import close_backends
from billing.models import UsageRecord
from cameras.frames import store_frame
from cameras.models import Region, RegionKind
from monitoring import pipeline
from monitoring.analysis_models import FrameAnalysis, FrameAnalysisStatus, RuleEvaluation
from monitoring.backends.baidu import client as baidu
from monitoring.backends.base import RetryPolicy
from monitoring.models import VendorAccount
from tests.backends.test_local import walking_frames
from tests.factories import BaiduAccountFactory
from tests.pipeline import add_analysis, add_rule, at, make_camera

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

WIDTH, HEIGHT = 320, 240
STEP = 0.2  # seconds between frames: the seed's advised 5 fps
# A still yard, then a dark figure walking from the left half into the right half.
WALK = [None, None, None, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220, 240]


@pytest.fixture(autouse=True)
def _fresh(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"
    close_backends()
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, error, rng=None: 0.0)
    yield
    close_backends()


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    """The form fields of every body_tracking request the Baidu client sends."""
    fields: list[dict] = []
    real = baidu._form_fields

    def recorded(api, prepared, params):
        built = real(api, prepared, params)
        if api.name == "body_tracking":
            fields.append(dict(built))
        return built

    monkeypatch.setattr(baidu, "_form_fields", recorded)
    return fields


def sandbox_baidu(live_server) -> VendorAccount:
    return BaiduAccountFactory(
        name="Sandbox Baidu",
        base_url=f"{live_server.url}/sandbox/baidu",
        api_key=settings.SANDBOX["BAIDU_API_KEY"],
        secret_key=settings.SANDBOX["BAIDU_SECRET_KEY"],
    )


def flow_camera(account):
    camera = make_camera(interval=STEP)
    camera.width, camera.height = WIDTH, HEIGHT
    camera.save()
    area = Region.objects.create(
        camera=camera,
        name="Gate",
        kind=RegionKind.FLOW,
        points=[[160, 1], [319, 1], [319, 239], [160, 239]],
        frame_width=WIDTH,
        frame_height=HEIGHT,
    )
    analysis = add_analysis(camera, "body_tracking", account, interval=STEP)
    return camera, area, analysis


def run(camera, images, start: float):
    outcomes = []
    for index, image in enumerate(images):
        frame = store_frame(camera, image, at(start + index * STEP))
        outcomes.append(
            pipeline.analyze_frame(frame.pk, now=frame.captured_at + timedelta(seconds=0.05))
        )
    return outcomes


def test_people_flow_sends_the_analysis_case_and_its_in_count_reaches_the_rules(live_server, sent):
    # Given a camera with a flow area, Baidu people flow through the sandbox, and flow and
    # occupancy rules on that area
    account = sandbox_baidu(live_server)
    camera, area, analysis = flow_camera(account)
    occupancy = add_rule(camera, "occupancy", area, params={"capacity": 5})
    flow = add_rule(camera, "flow", area, params={"limit_per_window": 10, "window_seconds": 60})

    # When a figure walks into the area, one frame every 0.2 s
    outcomes = run(camera, walking_frames(WALK, WIDTH, HEIGHT), start=0)

    # Then every frame was answered, one ledger row per request
    rows = list(FrameAnalysis.objects.filter(analysis=analysis).order_by("frame__captured_at"))
    assert [row.status for row in rows] == [FrameAnalysisStatus.DONE] * len(WALK), [
        (row.status, row.error) for row in rows
    ]
    assert UsageRecord.objects.filter(account=account, api="body_tracking").count() == len(WALK)
    # with the analysis' integer case, initialised on the first frame only
    assert {fields["case_id"] for fields in sent} == {str(analysis.pk)}
    assert [fields["case_init"] for fields in sent] == ["true"] + ["false"] * (len(WALK) - 1)
    assert all(fields["dynamic"] == "true" for fields in sent)
    # and the one entry is counted by the rules that read flow
    entered = sum(row.result.get("flow_in") or 0 for row in rows)
    assert entered == 1
    last = outcomes[-1].decisions
    assert last[occupancy.pk].count == 1
    evaluations = RuleEvaluation.objects.filter(rule=flow).count()
    assert evaluations == len(WALK)


def test_a_gap_longer_than_the_seeds_half_second_starts_a_new_case(live_server, sent):
    account = sandbox_baidu(live_server)
    camera, _area, analysis = flow_camera(account)
    assert pipeline.tracking_gap(analysis) == 0.5  # "最大时差不超过500ms"
    frames = walking_frames([None, None, None], WIDTH, HEIGHT)
    run(camera, frames[:2], start=0)
    # When the next frame comes two seconds after the last one
    run(camera, frames[2:], start=2.2)
    # Then it starts the case again
    assert [fields["case_init"] for fields in sent] == ["true", "false", "true"]


def test_two_tracking_analyses_never_share_a_case(live_server, sent):
    account = sandbox_baidu(live_server)
    _camera, _area, first = flow_camera(account)
    _camera2, _area2, second = flow_camera(account)
    assert pipeline.tracking_case_id(first) != pipeline.tracking_case_id(second)


def test_an_analysis_set_slower_than_the_seed_allows_one_lost_frame_before_restarting():
    class Slow:
        interval = 1.0

    assert pipeline.tracking_gap(Slow()) == 2.0
