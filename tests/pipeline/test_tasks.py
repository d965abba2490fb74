"""The Celery side of the pipeline: the capture hooks queue a frame once it is committed,
the task is thin, late-acknowledged and retries only infrastructure errors, and the
periodic task resolves quiet alerts only where data comes in."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from alerts.models import Alert, AlertStatus, EventType, LiveEvent
from billing.metered import close_backends
from cameras import signals
from cameras.capture import CaptureService, Grab
from cameras.frames import store_frame
from monitoring import pipeline, tasks
from monitoring.analysis_models import AnalysisState, FrameAnalysis
from monitoring.backends.base import BackendError, CircuitOpen, ServiceError
from monitoring.celery import app
from tests.pipeline import (
    RecordedAnalyzer,
    add_analysis,
    add_fence,
    add_rule,
    at,
    install_analyzer,
    jpeg,
    make_camera,
    store,
)

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def analyzer(monkeypatch):
    close_backends()
    fake = RecordedAnalyzer()
    install_analyzer(monkeypatch, fake)
    yield fake
    close_backends()


@pytest.fixture
def queued(monkeypatch):
    """Frame ids handed to the broker, instead of a broker."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.analyze_frame_task, "delay", lambda frame_id: sent.append(frame_id))
    return sent


# ---------------------------------------------------------------- hooks


def test_given_the_app_is_ready_then_the_pipeline_listens_to_stored_frames_and_camera_health():
    def uids(signal) -> set:
        return {entry[0][0] for entry in signal.receivers}  # (dispatch_uid, sender) keys

    assert "monitoring.analyse_frame" in uids(signals.frame_stored)
    assert "monitoring.camera_status" in uids(signals.camera_health_changed)


def test_given_capture_stores_a_frame_when_it_commits_then_its_analysis_is_queued(
    queued, django_capture_on_commit_callbacks
):
    camera = make_camera()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        frame = CaptureService().handle(Grab(camera.pk, 0, at(0), jpeg=jpeg()))
        # Not before the row is committed: a worker could not load it yet
        assert queued == []
    for callback in callbacks:
        callback()

    assert frame is not None and queued == [frame.pk]


def test_given_an_unreachable_broker_when_a_frame_is_queued_then_capture_goes_on_and_logs_it(
    monkeypatch, caplog
):
    def refuse(frame_id):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.analyze_frame_task, "delay", refuse)
    with caplog.at_level(logging.ERROR, logger="monitoring.tasks"):
        assert tasks.send_analysis(42) is False
    assert "frame 42: could not queue its analysis" in caplog.text


def test_given_a_camera_whose_health_changes_then_browsers_get_its_health_and_analysis_status():
    camera = make_camera()
    camera.health, camera.health_reason = "offline", "no frame for 9 s"
    camera.save()

    signals.camera_health_changed.send(sender=type(camera), camera=camera)

    event = LiveEvent.objects.get(type=EventType.CAMERA_STATUS)
    assert event.payload["health"] == "offline" and event.payload["reason"] == "no frame for 9 s"
    assert event.payload["analysis"] == "available" and event.payload["camera"] == camera.pk


# ---------------------------------------------------------------- the task


def test_given_the_analysis_task_then_it_acks_late_is_given_back_on_worker_loss_and_retries_few():
    task = tasks.analyze_frame_task
    assert task.acks_late is True and task.reject_on_worker_lost is True
    assert OperationalError in task.autoretry_for and BrokerError in task.autoretry_for
    assert 0 < task.max_retries <= 10
    # Vendor failures are the pipeline's: never retried by Celery
    assert not any(issubclass(error, BackendError) for error in task.autoretry_for)
    assert not issubclass(CircuitOpen, tasks.TRANSIENT_ERRORS)
    assert not issubclass(ServiceError, tasks.TRANSIENT_ERRORS)


def test_given_a_fresh_frame_when_the_task_runs_then_the_pipeline_analyses_it(analyzer):
    camera = make_camera()
    add_analysis(camera, "persons")
    frame = store_frame(camera, jpeg(), timezone.now())

    result = tasks.analyze_frame_task.apply(args=[frame.pk])

    assert result.get() == "analyzed"
    assert [call[0] for call in analyzer.calls] == ["persons"]


def test_given_a_frame_that_no_longer_exists_when_its_task_runs_then_it_does_nothing():
    assert tasks.analyze_frame_task.apply(args=[987654]).get() == "missing"


def test_given_a_database_connection_dropped_once_then_the_task_is_retried_and_succeeds(
    monkeypatch,
):
    attempts = []

    def flaky(frame_id, **kwargs):
        attempts.append(frame_id)
        if len(attempts) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return pipeline.FrameOutcome(frame_id, "analyzed")

    monkeypatch.setattr(pipeline, "analyze_frame", flaky)

    result = tasks.analyze_frame_task.apply(args=[7])

    assert result.get() == "analyzed"
    assert attempts == [7, 7]


# ---------------------------------------------------------------- quiet alerts


def test_given_quiet_alerts_then_they_resolve_except_where_analysis_is_unavailable(
    analyzer,
):
    # Given two cameras with an alert each, last seen a minute ago
    cameras = [make_camera(), make_camera()]
    for camera in cameras:
        fence = add_fence(camera)
        add_rule(camera, region=fence, consecutive_frames=1, clear_after_seconds=30)
        add_analysis(camera, "persons")
        pipeline.analyze_frame(store(camera, 0).pk, now=at(0.1))
    assert Alert.objects.filter(status=AlertStatus.OPEN).count() == 2
    # And both cameras analysed a frame 30 s later without the condition
    for camera in cameras:
        done = FrameAnalysis.objects.filter(frame__camera=camera).first()
        FrameAnalysis.objects.create(
            frame=store(camera, 30), analysis=done.analysis, api=done.api, status=done.status
        )
    # And the second camera's analysis is unavailable (its vendor is down)
    AnalysisState.objects.filter(analysis__camera=cameras[1]).update(
        available=False, reason="vendor unavailable"
    )

    # When quiet alerts are resolved a minute later
    resolved = pipeline.resolve_stale_alerts(now=at(0) + timedelta(seconds=60))

    # Then only the camera that has data got its alert resolved
    assert resolved == 1
    statuses = dict(Alert.objects.values_list("camera_id", "status"))
    assert statuses == {cameras[0].pk: AlertStatus.RESOLVED, cameras[1].pk: AlertStatus.OPEN}


def test_given_the_beat_schedule_of_the_pipeline_then_its_tasks_exist_in_the_celery_app():
    app.loader.import_default_modules()
    for entry in tasks.BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
        assert 0 < entry["schedule"] <= 60


# ---------------------------------------------------------------- database connections


class _Request:
    is_eager = False


class _Task:
    request = _Request()


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connection_from_task_to_task():
    from celery.fixups.django import DjangoWorkerFixup
    from django.db import connection

    from monitoring.celery import close_old_connections

    # Given a worker whose connection is open
    connection.ensure_connection()
    opened = connection.connection
    # When tasks start and end (Celery's own fix-up and ours, as the worker runs them)
    fixup = DjangoWorkerFixup(app)
    for _task in range(3):
        fixup.on_task_prerun(sender=_Task())
        close_old_connections(sender=_Task())
        fixup.on_task_postrun(sender=_Task())
        close_old_connections(sender=_Task())
    # Then the same connection serves the next task
    assert connection.connection is opened


@pytest.mark.django_db(transaction=True)
def test_a_worker_drops_a_connection_past_its_age_or_broken_between_tasks():
    import time

    from django.db import connection

    from monitoring.celery import close_old_connections

    # Given a connection older than CONN_MAX_AGE
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1
    close_old_connections(sender=_Task())
    # Then it is closed before the next task, which opens a new one
    assert connection.connection is None
    # Given a connection that broke during a task (the server went away)
    connection.ensure_connection()
    connection.errors_occurred = True
    connection.connection.close()
    close_old_connections(sender=_Task())
    assert connection.connection is None
    # And an eager task (run inside the caller) leaves the caller's connection alone
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1

    class Eager:
        class request:
            is_eager = True

    close_old_connections(sender=Eager())
    assert connection.connection is not None
