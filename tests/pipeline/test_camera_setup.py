"""A camera's setup kept between frames: read once, read again as soon as a region, an
analysis, a rule or a vendor account changes, and never kept without a shared cache."""

from __future__ import annotations

import pytest
from django.db import transaction

from monitoring import camera_setup
from tests.pipeline import add_analysis, add_fence, add_rule, local_account, make_camera

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget():
    camera_setup.forget()
    yield
    camera_setup.forget()


@pytest.fixture
def shared(settings):
    if not camera_setup.shared_cache():
        pytest.skip("needs the Redis cache (REDIS_URL)")


def names(setup) -> tuple[list[str], list[str], list[str]]:
    return (
        [region.name for region in setup.regions],
        [analysis.api for analysis in setup.analyses],
        [rule.name for rule in setup.rules],
    )


def test_the_setup_holds_the_regions_and_what_is_enabled_in_id_order():
    camera = make_camera()
    other = make_camera()
    yard, gate = add_fence(camera, "Yard"), add_fence(camera, "Gate")
    add_fence(other, "Elsewhere")
    add_analysis(camera, "persons")
    off = add_analysis(camera, "fence")
    off.enabled = False
    off.save()
    add_rule(camera, region=yard, name="Keep out")
    add_rule(camera, region=gate, name="Off", enabled=False)

    setup = camera_setup.setup_of(camera.pk)

    assert names(setup) == (["Yard", "Gate"], ["persons"], ["Keep out"])
    # with what the pipeline reads of them loaded already
    assert setup.analyses[0].account.vendor == "local"
    assert setup.rules[0].region.name == "Yard"


def test_a_camera_setup_is_read_once_while_nothing_changes(shared, django_assert_num_queries):
    camera = make_camera()
    add_fence(camera)
    add_analysis(camera, "persons")
    camera_setup.setup_of(camera.pk)  # stamps it
    first = camera_setup.setup_of(camera.pk)  # reads and keeps it

    with django_assert_num_queries(0):
        again = camera_setup.setup_of(camera.pk)

    assert again is first


@pytest.mark.parametrize("change", ["region", "analysis", "rule", "account", "deleted rule"])
def test_a_change_to_the_setup_is_seen_on_the_next_frame(shared, change):
    camera = make_camera()
    other = make_camera()
    yard = add_fence(camera)
    analysis = add_analysis(camera, "persons")
    rule = add_rule(camera, region=yard, name="Keep out")
    camera_setup.setup_of(camera.pk)
    kept = camera_setup.setup_of(camera.pk)
    camera_setup.setup_of(other.pk)
    kept_other = camera_setup.setup_of(other.pk)

    if change == "region":
        yard.name = "Yard (moved)"
        yard.save()
    elif change == "analysis":
        analysis.enabled = False
        analysis.save()
    elif change == "rule":
        add_rule(camera, region=yard, name="Second")
    elif change == "account":
        account = analysis.account
        account.read_timeout = 33
        account.save()
    else:
        rule.delete()

    setup = camera_setup.setup_of(camera.pk)
    assert setup is not kept
    expected = {
        "region": (["Yard (moved)"], ["persons"], ["Keep out"]),
        "analysis": (["Yard"], [], ["Keep out"]),
        "rule": (["Yard"], ["persons"], ["Keep out", "Second"]),
        "account": (["Yard"], ["persons"], ["Keep out"]),
        "deleted rule": (["Yard"], ["persons"], []),
    }[change]
    assert names(setup) == expected
    if change == "account":
        assert setup.analyses[0].account.read_timeout == 33
    # and only an account change makes every camera read its setup again
    assert (camera_setup.setup_of(other.pk) is kept_other) == (change != "account")


def test_a_setup_read_before_a_change_commits_is_read_again_after_it(
    shared, django_capture_on_commit_callbacks
):
    camera = make_camera()
    yard = add_fence(camera)
    camera_setup.setup_of(camera.pk)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        yard.name = "Renamed"
        yard.save()
        # a setup read and kept while the change is not committed yet
        seen = camera_setup.setup_of(camera.pk)
    # is read again once the change commits
    assert camera_setup.setup_of(camera.pk) is not seen
    assert names(camera_setup.setup_of(camera.pk))[0] == ["Renamed"]


def test_without_a_shared_cache_the_setup_is_read_for_every_frame(
    settings, django_assert_num_queries
):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    camera = make_camera()
    add_analysis(camera, "persons", account=local_account())
    camera_setup.setup_of(camera.pk)

    with django_assert_num_queries(3):
        camera_setup.setup_of(camera.pk)


def test_a_kept_setup_is_read_again_after_a_while_whatever_the_stamps_say(shared, monkeypatch):
    camera = make_camera()
    add_fence(camera, "Yard")
    camera_setup.setup_of(camera.pk)
    kept = camera_setup.setup_of(camera.pk)
    # a change no stamp told of (a bulk update)
    from cameras.models import Region

    Region.objects.filter(camera=camera).update(name="Renamed in bulk")
    assert camera_setup.setup_of(camera.pk) is kept

    later = camera_setup.time.monotonic() + camera_setup.KEEP_SECONDS + 1
    monkeypatch.setattr(camera_setup.time, "monotonic", lambda: later)
    assert names(camera_setup.setup_of(camera.pk))[0] == ["Renamed in bulk"]


def test_a_change_is_saved_even_when_the_cache_cannot_be_reached(monkeypatch, caplog):
    camera = make_camera()

    def unreachable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(camera_setup.cache, "set", unreachable)
    region = add_fence(camera, "Yard")

    assert region.pk is not None
    assert "not replaced" in caplog.text
