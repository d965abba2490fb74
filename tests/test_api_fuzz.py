"""The whole REST API fuzzed from its own OpenAPI schema: no request may end in a 5xx.

Schemathesis loads ``/api/schema/?format=json`` from the Django WSGI application in-process
and generates requests for every operation in it (explicit examples, the coverage phase's
boundary values, then random fuzzing). Only ``not_a_server_error`` is checked: a fuzzed bad
input answered with a 4xx is the API doing its job.

Every generated test (one per operation) runs in its own rolled-back transaction on the
demo data (``manage.py demo``) plus a few open alerts and a vendor account, as a superuser
who is a member of the demo site and has the Admin and Finance roles, authenticated with a
token. Some generated ``{id}`` path parameters are replaced with small ids that exist (1-3),
so detail, update, delete and action endpoints are reached, not only their 404.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.signals import request_started
from django.db import close_old_connections
from django.utils import timezone, translation
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from alerts.models import Alert, Rule
from cameras import roles
from cameras.models import Site
from monitoring.management.commands.demo import DEMO_SITE
from monitoring.wsgi import application
from tests.factories import BaiduAccountFactory

TOKEN = "f" * 40
HEADERS = {"Authorization": f"Token {TOKEN}"}
# Bounded: 66 operations on a 2-core machine must stay within a few minutes in all.
MAX_EXAMPLES = 25


def _existing_ids(context, path_parameters):
    """The generated parameters, or the same with ``id`` set to one that likely exists."""
    if not path_parameters or "id" not in path_parameters:
        return st.just(path_parameters)
    return st.one_of(
        st.just(path_parameters),
        st.integers(min_value=1, max_value=3).map(lambda pk: {**path_parameters, "id": pk}),
    )


def _fuzz_data() -> None:
    call_command("demo", verbosity=0)
    site = Site.objects.get(name=DEMO_SITE)
    groups = roles.ensure_roles()
    user = get_user_model().objects.create_superuser(
        username="fuzzer", email="fuzzer@example.com", password="fuzz-password"
    )
    user.groups.add(groups[roles.ADMIN], groups[roles.FINANCE])
    site.members.add(user)
    Token.objects.create(user=user, key=TOKEN)
    now = timezone.now()
    for rule in Rule.objects.select_related("camera")[:3]:
        Alert.objects.create(
            rule=rule,
            camera=rule.camera,
            region=rule.region,
            site_id=rule.camera.site_id,
            kind=rule.kind,
            status="open",
            severity="warning",
            title=rule.name,
            opened_at=now - timedelta(minutes=5),
            last_seen_at=now,
        )
    BaiduAccountFactory(name="Baidu")


def _served_schema() -> dict:
    """What ``/api/schema/?format=json`` serves, generated without a request.

    The schema must exist when pytest collects this module (``schema.parametrize()`` makes
    one test per operation), and then the database is out of bounds, so the token-protected
    view cannot be asked. ``SERVE_PUBLIC`` is on, so the view answers exactly this;
    ``test_schema_is_the_served_one`` checks that against the view through ``from_wsgi``.
    (Schemathesis' lazy ``from_fixture`` loader fails on pytest 9: it reads the removed
    ``Function._nodeid``.)
    """
    with translation.override("en"):  # as the served one reads in tests
        raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(raw))


schema = schemathesis.openapi.from_dict(_served_schema())
schema.app = application
schema.hook("flatmap_path_parameters")(_existing_ids)


@pytest.fixture(autouse=True)
def fuzz_data(db):
    _fuzz_data()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Requests go straight to the WSGI application, which closes database connections
    that are not in autocommit when a request starts: inside a test's transaction that
    would close PostgreSQL's. Django's own test client switches this off the same way."""
    request_started.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)


def test_schema_is_the_served_one():
    served = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", application, headers=HEADERS
    )
    assert served.raw_schema == schema.raw_schema
    assert len(list(schema.get_all_operations())) == len(list(served.get_all_operations()))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error(case):
    case.call_and_validate(headers=HEADERS, checks=[not_a_server_error])
