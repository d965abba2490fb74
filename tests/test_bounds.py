"""Every number a user sets is bounded: the model refuses it (so the Django admin does),
and so do the pages' forms and the REST API, with a 400 and never a 500; and a value that
got past them (written straight into the database) stops nothing: retention cleans every
other camera and logs the one it cannot."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Rule
from billing import purchases
from billing.models import Budget, QpsOrder
from cameras import roles
from cameras.frames import delete_old_frames, store_frame
from cameras.models import Camera, Frame, Region
from tests.cameras import jpeg_bytes
from tests.factories import HttpCameraFactory

pytestmark = pytest.mark.django_db

HUGE = 2**63 - 1


def api(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


@pytest.fixture
def admin(make_user, site_a):
    return make_user(roles.ADMIN, site_a)


@pytest.fixture
def camera(site_a):
    return HttpCameraFactory(site=site_a, name="Gate")


@pytest.fixture
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# ---------------------------------------------------------------- cameras


@pytest.mark.parametrize("hours", [HUGE, 2**31, 87_601, 0])
def test_a_camera_retention_out_of_bounds_is_refused_by_the_api(admin, camera, hours):
    response = api(admin).patch(
        f"/api/cameras/{camera.pk}/", {"frame_retention_hours": hours}, format="json"
    )
    assert response.status_code == 400
    assert "frame_retention_hours" in response.json()
    assert Camera.objects.get(pk=camera.pk).frame_retention_hours == 24


def test_the_longest_retention_is_accepted(admin, camera):
    response = api(admin).patch(
        f"/api/cameras/{camera.pk}/", {"frame_retention_hours": 87_600}, format="json"
    )
    assert response.status_code == 200
    assert Camera.objects.get(pk=camera.pk).frame_retention_hours == 87_600


def test_a_camera_retention_out_of_bounds_is_refused_by_the_page_and_the_model(
    admin, camera, site_a
):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin)
    response = client.post(
        f"/cameras/{camera.pk}/",
        {
            "site": site_a.pk,
            "name": camera.name,
            "source_kind": "demo",
            "source_url": "site-gate",
            "sample_interval": "5",
            "enabled": "on",
            "frame_retention_hours": str(HUGE),
        },
    )
    assert response.status_code == 200  # the form again, with its error
    assert "Ensure this value is less than or equal to 87600" in response.content.decode()
    camera.frame_retention_hours = HUGE
    with pytest.raises(ValidationError) as error:
        camera.full_clean()
    assert "frame_retention_hours" in error.value.message_dict


def test_the_django_admin_refuses_a_retention_out_of_bounds(make_user, camera, site_a):
    superuser = make_user(None, is_staff=True, is_superuser=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(superuser)
    url = f"/admin/cameras/camera/{camera.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {
        name: ("" if value is None else value)
        for name, value in form.initial.items()
        if name in form.fields and not isinstance(value, list)
    }
    data.update({"frame_retention_hours": "87601", "password": ""})
    response = client.post(url, data)
    assert response.status_code == 200
    assert "frame_retention_hours" in response.context["adminform"].form.errors
    assert Camera.objects.get(pk=camera.pk).frame_retention_hours == 24


def test_a_region_frame_size_out_of_bounds_is_refused(admin, camera):
    response = api(admin).post(
        "/api/regions/",
        {
            "camera": camera.pk,
            "name": "Yard",
            "kind": "fence",
            "points": [[1, 1], [30, 1], [30, 30]],
            "frame_width": 16_385,
            "frame_height": 480,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "frame_width" in response.json()
    assert not Region.objects.exists()


# ---------------------------------------------------------------- rules


def rule_body(camera, **fields) -> dict:
    body = {
        "camera": camera.pk,
        "region": None,
        "name": "Crowd at the gate",
        "kind": "crowd",
        "min_confidence": 0.6,
        "consecutive_frames": 1,
        "severity": "warning",
        "cooldown_seconds": 120,
        "clear_after_seconds": 60,
        "params": {"limit": 5},
    }
    body.update(fields)
    return body


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"cooldown_seconds": HUGE}, "cooldown_seconds"),
        ({"cooldown_seconds": 7 * 86_400 + 1}, "cooldown_seconds"),
        ({"clear_after_seconds": HUGE}, "clear_after_seconds"),
        ({"clear_after_seconds": 86_401}, "clear_after_seconds"),
        ({"consecutive_frames": HUGE}, "consecutive_frames"),
        ({"params": {"limit": HUGE}}, "params"),
        ({"kind": "flow", "params": {"limit_per_window": 3, "window_seconds": 1e300}}, "params"),
        ({"kind": "loitering", "params": {"dwell_seconds": 10**12}}, "params"),
        ({"kind": "occupancy", "params": {"capacity": 10, "initial": 10**9}}, "params"),
    ],
)
def test_a_rule_number_out_of_bounds_is_refused_by_the_api(admin, camera, fields, field):
    response = api(admin).post("/api/rules/", rule_body(camera, **fields), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Rule.objects.exists()


def test_rule_numbers_at_their_bounds_are_accepted(admin, camera):
    body = rule_body(
        camera,
        cooldown_seconds=7 * 86_400,
        clear_after_seconds=86_400,
        params={"limit": 1_000_000},
    )
    response = api(admin).post("/api/rules/", body, format="json")
    assert response.status_code == 201, response.content


def test_a_rule_page_refuses_a_cooldown_out_of_bounds(admin, camera):
    from alerts.forms import RuleForm

    form = RuleForm(
        data={
            "camera": camera.pk,
            "name": "Crowd",
            "kind": "crowd",
            "min_confidence": "0.5",
            "consecutive_frames": "1",
            "severity": "warning",
            "cooldown_seconds": str(7 * 86_400 + 1),
            "clear_after_seconds": "86401",
            "active_days": [str(day) for day in range(7)],
            "param_limit": "5",
        },
        camera=camera,
    )
    assert not form.is_valid()
    assert {"cooldown_seconds", "clear_after_seconds"} <= set(form.errors)


# ---------------------------------------------------------------- billing


def test_a_budget_slow_factor_out_of_bounds_is_refused(admin, site_a):
    body = {
        "site": site_a.pk,
        "camera": None,
        "monthly_limit": "500.00",
        "action": "slow",
        "slow_factor": 1001,
    }
    response = api(admin).post("/api/budgets/", body, format="json")
    assert response.status_code == 400
    assert "slow_factor" in response.json()
    huge = api(admin).post(
        "/api/budgets/", {**body, "monthly_limit": "1" + "0" * 30}, format="json"
    )
    assert huge.status_code == 400
    assert not Budget.objects.exists()


def test_a_budget_page_refuses_a_slow_factor_out_of_bounds(admin, site_a):
    from billing.budget_views import BudgetForm

    form = BudgetForm(
        data={
            "site": site_a.pk,
            "monthly_limit": "500",
            "action": "slow",
            "slow_factor": "1001",
        },
        user=admin,
    )
    assert not form.is_valid()
    assert "slow_factor" in form.errors


@pytest.mark.parametrize("period", [{"months": HUGE}, {"months": 121}, {"days": 10**9}])
def test_a_qps_order_period_out_of_bounds_is_refused(make_user, period):
    account = purchases.add_account("Plant 1 Baidu", "baidu", "enterprise")
    finance = api(make_user(roles.FINANCE))
    order = {
        "account": account.pk,
        "api": "body_attr",
        "purchased_at": "2024-03-05T10:00+08:00",
        "qps": 1,
        **period,
    }
    response = finance.post("/api/qps-orders/", order, format="json")
    assert response.status_code == 400
    assert set(period) <= set(response.json())
    assert not QpsOrder.objects.exists()


def test_a_qps_order_period_out_of_bounds_is_refused_by_the_purchase_itself(db):
    # (the command line records orders through it, past the API's serializer)
    from billing.pricing import PricingError

    account = purchases.add_account("Plant 1 Baidu", "baidu", "enterprise")
    at = timezone.now()
    with pytest.raises(PricingError, match="0 to 120 months"):
        purchases.buy_qps(account, "body_attr", 1, 10**9, 0, at)
    assert not QpsOrder.objects.exists()


# ---------------------------------------------------------------- retention


def test_retention_cleans_every_camera_even_when_one_cannot_be(
    site_a, media_root, caplog, django_capture_on_commit_callbacks
):
    # given a camera whose retention was written around the validators (as large as the
    # column holds: 2**31 - 1 hours reaches before year 1), created first
    broken = HttpCameraFactory(site=site_a, name="Broken")
    Camera.objects.filter(pk=broken.pk).update(frame_retention_hours=2**31 - 1)
    # and two cameras after it with old frames
    now = timezone.now()
    others = [
        HttpCameraFactory(site=site_a, name=f"Gate {n}", frame_retention_hours=1) for n in (1, 2)
    ]
    old = [store_frame(camera, jpeg_bytes(), now - timedelta(hours=2)) for camera in others]
    kept = store_frame(broken, jpeg_bytes(), now - timedelta(hours=2))
    # when retention runs
    with (
        caplog.at_level(logging.ERROR, logger="cameras.frames"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        deleted = delete_old_frames(now)
    # then the other cameras' old frames are gone, the broken camera's are kept
    assert deleted == 2
    assert not Frame.objects.filter(pk__in=[frame.pk for frame in old]).exists()
    assert Frame.objects.filter(pk=kept.pk).exists()
    # and the camera that could not be cleaned is logged
    assert any(
        f"camera {broken.pk}: old frames not deleted" in record.getMessage()
        for record in caplog.records
    )
