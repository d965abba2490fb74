"""Every vendor analysis works end to end under the run command's processes.

With ``manage.py runall`` up (web with the sandbox, worker, beat, capture) on the test
database, an admin adds sandbox accounts of Baidu, the Baidu private deployment and CTYun
through the REST API, finance records CTYun's free quota claim, and the admin adds one
analysis per API each account offers on cameras. Within minutes every analysis reports
health ``ok`` and finance's usage shows successful calls of every metered API.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from billing.costs import camera_apis
from billing.pricing import SHANGHAI
from cameras.sources.demo import SCENES
from monitoring.backends import registry
from tests import servers
from tests.servers import MANAGE, ROOT, free_port, on_test_database, start_logged, stop_group

VENDORS = ("baidu", "baidu_private", "ctyun")
SCENE = "site-gate"
# Seconds between two calls of one analysis: slow enough for two cores to keep up with
# every API at once; people flow needs frames at most 0.5 s apart (Baidu's 人流量统计).
INTERVAL = 8.0
FLOW_INTERVAL = 0.5
HEALTH_DEADLINE = 300


def account_fields(vendor: str, server: str) -> dict:
    return {
        "baidu": {
            "base_url": f"{server}/sandbox/baidu",
            "api_key": "sandbox-ak",
            "secret_key": "sandbox-sk",
        },
        "baidu_private": {"base_url": f"{server}/sandbox/baidu-private"},
        "ctyun": {
            "base_url": f"{server}/sandbox/ctyun",
            "api_key": "sandbox-ak",
            "secret_key": "sandbox-sk",
            "app_key": "sandbox-appkey",
        },
    }[vendor]


def created(response: httpx.Response) -> dict:
    assert response.status_code == 201, (response.request.url, response.text)
    return response.json()


def all_pages(client: httpx.Client, url: str, **params) -> list[dict]:
    items, page = [], 1
    while True:
        answer = client.get(url, params={**params, "page": page})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["results"]
        if not body.get("next"):
            return items
        page += 1


@pytest.mark.django_db(transaction=True)
def test_every_offered_analysis_reports_ok_and_its_calls_reach_finance(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the run command shares the test database over PostgreSQL only")
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    env = on_test_database(tmp_path)
    env.pop("REDIS_URL", None)  # the run command's own embedded Redis
    subprocess.run(
        [sys.executable, str(MANAGE), "demo", "--sandbox-url", f"{server}/sandbox"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    users = get_user_model().objects
    admin_token = Token.objects.get_or_create(user=users.get(username="admin"))[0].key
    finance_token = Token.objects.get_or_create(user=users.get(username="finance"))[0].key

    log_path = tmp_path / "runall.log"
    process = start_logged([str(MANAGE), "runall", "--port", str(port)], env, log_path)

    def tail() -> str:
        return servers.tail(log_path)

    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, tail()
            try:
                if httpx.get(f"{server}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, tail()
            time.sleep(1)

        admin = httpx.Client(
            base_url=server, headers={"Authorization": f"Token {admin_token}"}, timeout=30
        )
        finance = httpx.Client(
            base_url=server, headers={"Authorization": f"Token {finance_token}"}, timeout=30
        )
        # Given a camera with a fence, a crowd area and a flow line area
        site = all_pages(admin, "/api/sites/")[0]["id"]
        width, height = SCENES[SCENE].size
        camera = created(
            admin.post(
                "/api/cameras/",
                json={
                    "site": site,
                    "name": "Every analysis",
                    "source_kind": "demo",
                    "source_url": f"demo://{SCENE}",
                    "sample_interval": FLOW_INTERVAL,
                    # body_seg feeds the privacy mask alone: it is offered with one on
                    "privacy_mask": "blur",
                },
            )
        )["id"]
        area = [[20, 20], [width - 21, 20], [width - 21, height - 21], [20, height - 21]]
        regions = {
            kind: created(
                admin.post(
                    "/api/regions/",
                    json={
                        "camera": camera,
                        "name": f"{kind} area",
                        "kind": kind,
                        "points": area,
                        "frame_width": width,
                        "frame_height": height,
                    },
                )
            )["id"]
            for kind in ("fence", "crowd", "flow")
        }
        # and the sandbox accounts of every vendor, CTYun's free quota claimed by finance
        accounts = {
            vendor: created(
                admin.post(
                    "/api/vendor-accounts/",
                    json={
                        "vendor": vendor,
                        "name": f"Sandbox {vendor} (every analysis)",
                        "site": site,
                        **account_fields(vendor, server),
                    },
                )
            )["id"]
            for vendor in VENDORS
        }
        for vendor, account in accounts.items():
            if registry.traits(vendor).paid_by_packages:
                created(
                    finance.post(
                        "/api/free-quota-claims/",
                        json={"account": account, "claimed_at": timezone.now().isoformat()},
                    )
                )

        # When the admin adds one analysis per API each account offers on cameras
        offered = [(vendor, api) for vendor in VENDORS for api in camera_apis(vendor)]
        assert len(offered) >= 20
        for vendor, api in offered:
            created(
                admin.post(
                    "/api/camera-analyses/",
                    json={
                        "camera": camera,
                        "api": api,
                        "account": accounts[vendor],
                        "interval": FLOW_INTERVAL if api == "body_tracking" else INTERVAL,
                        "region": regions["fence"] if api == "fence" else None,
                        "only_with_person": False,
                    },
                )
            )

        # Then within minutes every one of them reports ok
        deadline = time.monotonic() + HEALTH_DEADLINE
        while True:
            assert process.poll() is None, tail()
            analyses = all_pages(admin, "/api/camera-analyses/", camera=camera)
            not_ok = {
                (item["account"], item["api"]): item["health"]
                for item in analyses
                if item["health"]["state"] != "ok"
            }
            if not not_ok:
                break
            assert time.monotonic() < deadline, (not_ok, tail())
            time.sleep(3)
        assert len(analyses) == len(offered)

        # and finance's usage of this month shows successful calls of every metered API
        month = timezone.now().astimezone(SHANGHAI).strftime("%Y-%m")
        for vendor in ("baidu", "ctyun"):
            usage = finance.get(
                f"/api/billing-accounts/{accounts[vendor]}/usage/", params={"month": month}
            )
            assert usage.status_code == 200, usage.text
            succeeded = {row["api"] for row in usage.json()["days"] if row["success"] > 0}
            wanted = {api for api in camera_apis(vendor) if registry.api_spec(vendor, api).metered}
            assert wanted <= succeeded, (vendor, wanted - succeeded)
    finally:
        stop_group(process)
