"""Migration monitoring/0004: existing vendor accounts become the only site's when the
installation has exactly one site, and stay shared otherwise."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("monitoring", "0003_framerun_analyzing"),
    ("cameras", "0002_camera_cameraanalysis_changerecord_frame_region_and_more"),
]
AFTER = [("monitoring", "0004_vendor_account_site")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def at_0003(transactional_db):
    apps = migrate(BEFORE)
    yield apps
    migrate(executor_leaf_nodes())


def executor_leaf_nodes():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.parametrize(("sites", "owned"), [(1, True), (2, False), (0, False)])
def test_existing_accounts_go_to_the_only_site_or_stay_shared(at_0003, sites, owned):
    Site = at_0003.get_model("cameras", "Site")
    VendorAccount = at_0003.get_model("monitoring", "VendorAccount")
    created = [Site.objects.create(name=f"Site {index}") for index in range(sites)]
    VendorAccount.objects.create(vendor="local", name="On-box")

    apps = migrate(AFTER)

    account = apps.get_model("monitoring", "VendorAccount").objects.get(name="On-box")
    assert account.site_id == (created[0].pk if owned else None)
