"""Our own vendor clients against the sandbox over real HTTP: answers the sandbox
replays from the seed come back marked as replays, analysed ones do not."""

from __future__ import annotations

import pytest

from monitoring.backends.base import ClientSettings
from monitoring.backends.registry import open_backend
from tests.sandbox.conftest import photo, picture


@pytest.fixture
def baidu(live_server):
    settings = ClientSettings(
        base_url=f"{live_server.url}/sandbox/baidu",
        api_key="sandbox-ak",
        secret_key="sandbox-sk",
        account="sandbox-test",
    )
    with open_backend("baidu", settings) as backend:
        yield backend


@pytest.fixture
def ctyun(live_server):
    settings = ClientSettings(
        base_url=f"{live_server.url}/sandbox/ctyun",
        api_key="sandbox-ak",
        secret_key="sandbox-sk",
        app_key="sandbox-appkey",
        account="sandbox-test",
    )
    with open_backend("ctyun", settings) as backend:
        yield backend


@pytest.mark.django_db(transaction=True)
def test_a_baidu_crowd_count_is_analysed_and_a_gesture_is_replayed(baidu):
    counted = baidu.run("body_num", [picture()])[0].result
    gesture = baidu.run("gesture", [photo("000000.jpg")])[0].result
    assert counted.replay is False
    assert counted.person_count == 0
    assert gesture.replay is True
    assert gesture.objects, "the seed's gesture example has findings"


@pytest.mark.django_db(transaction=True)
def test_a_ctyun_fence_is_analysed_and_a_helmet_answer_is_replayed(ctyun):
    fence = ctyun.run("fence", [picture(), picture()], {"area": "1,1,300,1,300,200"})
    helmet = ctyun.run("helmet", [photo("000062.jpg")])[0].result
    assert [batch.images for batch in fence] == [[0, 1]]
    assert fence[0].result.replay is False
    assert helmet.replay is True
