"""Every vendor and every API the camera form offers for it, end to end: a stored site
photo goes through the real pipeline (``analyze_frame``) against the built-in sandbox on
a live server, on PostgreSQL and Redis, with the real gate, clients and ledger.

The cases come from the backend registry and the form's API choices: an API joins the
matrix by being offered, not by a test being written. Each case asserts one ledger row
per vendor request (requests counted as the sandbox receives them; the on-box analyzer
makes one per batch in this process), a normalized result stored, an evaluation of each
rule that reads the API, and the analysis reporting that it works.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.signals import request_started
from django.utils import timezone

from alerts.models import Rule
from billing.costs import vendor_apis
from billing.metered import close_backends
from billing.models import Outcome, UsageRecord
from cameras.forms import CameraAnalysisForm, _api_choices
from cameras.frames import store_frame
from cameras.models import Camera, PrivacyMask, Region, RegionKind, SourceKind
from monitoring import analysis_health, pipeline
from monitoring.analysis_models import (
    FrameAnalysis,
    FrameAnalysisStatus,
    RuleEvaluation,
)
from monitoring.backends import registry
from monitoring.backends.base import RetryPolicy
from monitoring.models import VendorAccount
from tests.factories import CameraFactory, SiteFactory
from tests.sandbox.conftest import PHOTOS, photo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

PHOTO = "000294.jpg"  # 960x720, workers the on-box analyzer finds
WIDTH, HEIGHT = 960, 720
# One region of each kind an analysis reads, covering most of the frame (4 points: within
# every vendor's limits).
AREA = [[40, 40], [920, 40], [920, 680], [40, 680]]
REGION_KINDS = (RegionKind.FENCE, RegionKind.CROWD, RegionKind.FLOW)

# The rules that read each API's answer (see ``alerts.rules``: by API name, or by what
# the answer fills), with the params each rule kind needs.
RULES_BY_API = {
    "fence": ("fence_intrusion",),
    "helmet": ("no_helmet",),
    "workwear": ("workwear_colour",),
    "body_num": ("crowd",),
    "body_tracking": ("flow", "occupancy"),
    "fall": ("fall",),
    "fight": ("fight",),
    "driver_behavior": ("driver_behaviour",),
    "body_attr": ("no_helmet", "smoking", "phone", "no_mask"),
    "gesture": ("help_gesture",),
    "hand_analysis": ("hand_in_danger",),
    "fingertip": ("hand_in_danger",),
    "body_analysis": ("hand_in_danger", "person_down"),
    "persons": ("hand_in_danger", "person_down"),  # on-box: keypoints
}
# Result kinds that are one value: an API declaring one fills it on every answer.
SCALAR_KINDS = frozenset({"person_count", "sequence_score", "face_quality", "liveness"})
RULES_BY_RESULT = {"persons": ("loitering",)}
RULE_PARAMS = {
    "workwear_colour": {"allowed_colours": ["orange"]},
    "crowd": {"limit": 50},
    "occupancy": {"capacity": 50},
    "flow": {"limit_per_window": 50, "window_seconds": 60},
    "loitering": {"dwell_seconds": 600},
}


def _cases() -> list[tuple[str, str]]:
    offered = {name for name, _label in _api_choices()}
    return [
        (vendor, api)
        for vendor in registry.VENDORS
        for api in vendor_apis(vendor)
        if api in offered
    ]


def rules_reading(vendor: str, api: str) -> tuple[str, ...]:
    spec = registry.api_spec(vendor, api)
    kinds = list(RULES_BY_API.get(api, ()))
    for result_kind, rule_kinds in RULES_BY_RESULT.items():
        if result_kind in spec.results:
            kinds.extend(rule_kinds)
    return tuple(dict.fromkeys(kinds))


def analysis_ok(analysis) -> bool:
    """The analysis reports that it works: health ``ok`` as the API and pages show it."""
    return analysis_health.health_payload(analysis)["state"] == "ok"


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path, monkeypatch):
    if not PHOTOS.is_dir():
        pytest.fail(f"the shared ppe-sample photos are missing at {PHOTOS}")
    settings.MEDIA_ROOT = tmp_path / "media"
    close_backends()
    # A failed vendor request is retried at once: the matrix counts requests, not seconds.
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, error, rng=None: 0.0)
    yield
    close_backends()


@pytest.fixture
def vendor_requests():
    """Paths of the analysis requests the sandbox received (token requests left out)."""
    seen: list[str] = []

    def count(sender, environ=None, **_kwargs):
        path = (environ or {}).get("PATH_INFO", "")
        if path.startswith("/sandbox/") and "/oauth/" not in path:
            seen.append(path)

    request_started.connect(count, weak=False, dispatch_uid="pipeline-matrix")
    yield seen
    request_started.disconnect(dispatch_uid="pipeline-matrix")


def make_account(vendor: str, server: str) -> VendorAccount:
    """An account of ``vendor`` pointed at the sandbox, as an admin would add it, with
    the free quota claimed in the vendor's console this year."""
    fields = {
        "baidu": {
            "base_url": f"{server}/sandbox/baidu",
            "api_key": "sandbox-ak",
            "secret_key": "sandbox-sk",
        },
        "ctyun": {
            "base_url": f"{server}/sandbox/ctyun",
            "api_key": "sandbox-ak",
            "secret_key": "sandbox-sk",
            "app_key": "sandbox-appkey",
        },
        "baidu_private": {"base_url": f"{server}/sandbox/baidu-private"},
        "local": {},
    }[vendor]
    account = VendorAccount(name=f"Sandbox {vendor}", vendor=vendor, **fields)
    if registry.traits(vendor).free_quota:
        account.free_quota_claimed_at = timezone.now() - timedelta(days=1)
    account.full_clean()
    account.save()
    return account


def make_camera() -> Camera:
    camera = CameraFactory(
        site=SiteFactory(name="Matrix site"),
        name="Matrix camera",
        source_kind=SourceKind.DEMO,
        source_url="demo://site-gate",
        sample_interval=0.5,
        width=WIDTH,
        height=HEIGHT,
        # body_seg is offered only where the privacy mask reads it (docs/privacy.md)
        privacy_mask=PrivacyMask.BLUR,
    )
    for kind in REGION_KINDS:
        Region.objects.create(
            camera=camera,
            name=f"{kind} area",
            kind=kind,
            points=AREA,
            frame_width=WIDTH,
            frame_height=HEIGHT,
        )
    return camera


def offer(camera: Camera, api: str, account: VendorAccount):
    """The analysis as the camera form saves it."""
    form = CameraAnalysisForm(
        data={
            "api": api,
            "account": account.pk,
            "interval": "0.5",
            "enabled": "on",
            "params": "{}",
        },
        camera=camera,
    )
    assert form.is_valid(), form.errors.as_json()
    return form.save()


def add_rules(camera: Camera, kinds: tuple[str, ...]) -> list[Rule]:
    fence = camera.regions.get(kind=RegionKind.FENCE)
    return [
        Rule.objects.create(
            camera=camera,
            name=f"{kind} rule",
            kind=kind,
            region=fence if kind == "fence_intrusion" else None,
            params=RULE_PARAMS.get(kind, {}),
            consecutive_frames=1,
            cooldown_seconds=0,
        )
        for kind in kinds
    ]


def test_the_matrix_covers_every_vendor():
    assert {vendor for vendor, _api in _cases()} == set(registry.VENDORS)


@pytest.mark.parametrize(("vendor", "api"), _cases())
def test_a_frame_goes_through_the_pipeline(vendor, api, live_server, vendor_requests):
    # Given an account of the vendor on the sandbox, a camera offering the API, and the
    # rules that read its answer
    account = make_account(vendor, live_server.url)
    camera = make_camera()
    analysis = offer(camera, api, account)
    rules = add_rules(camera, rules_reading(vendor, api))
    frame = store_frame(camera, photo(PHOTO), timezone.now())

    # When a worker analyses the frame
    outcome = pipeline.analyze_frame(frame.pk, now=frame.captured_at + timedelta(seconds=0.1))

    # Then the analysis gave a normalized result
    assert outcome.status == "analyzed", outcome
    row = FrameAnalysis.objects.get(frame=frame, analysis=analysis)
    assert row.status == FrameAnalysisStatus.DONE, f"{row.status}: {row.error_code} {row.error}"
    assert row.result["vendor"] == vendor and row.result["api"] == api
    kinds = registry.api_spec(vendor, api).results
    assert set(kinds) <= set(row.result)
    filled = [kind for kind in kinds & SCALAR_KINDS if row.result[kind] is not None]
    assert filled == sorted(kinds & SCALAR_KINDS), row.result
    # one ledger row per vendor request, every one of them answered
    records = list(UsageRecord.objects.filter(account=account))
    requests = 1 if registry.traits(vendor).in_process else len(vendor_requests)
    assert requests >= 1
    assert len(records) == requests, vendor_requests
    assert {record.outcome for record in records} == {Outcome.SUCCESS}
    assert {call["request_id"] for call in row.calls} == {r.request_id for r in records}
    # each rule reading the API was evaluated on this frame
    evaluated = set(RuleEvaluation.objects.filter(frame=frame).values_list("rule_id", flat=True))
    assert {rule.pk for rule in rules} <= evaluated
    # and the analysis says it works
    assert analysis_ok(analysis)
