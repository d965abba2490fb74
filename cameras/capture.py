"""The capture service: holds every enabled camera of its shard open, samples each at its
``sample_interval``, stores the frames and keeps each camera's health current.

Threads: one worker per camera opens its source and grabs a frame whenever one is due
(a grab that comes late starts the next interval from then: missed samples are skipped,
never made up). A worker touches no database: it drops its result in a mailbox that
holds only the latest result per camera, so a frame not yet stored is replaced by a
newer one instead of queueing behind it. The service's own thread takes results from
the mailbox, stores frames (``cameras.frames.store_frame``), updates health, sends the
signals, reloads the camera list every ``reload_seconds`` (added, removed, disabled and
changed cameras are picked up without a restart) and notices cameras gone silent.

Health:
- ``online`` after a good frame (the reason says how old frames are when taken, when
  that grows beyond ``LATE_FRAME_INTERVALS`` sampling intervals);
- ``degraded`` after a failure that follows good frames;
- ``offline`` after ``OFFLINE_AFTER_FAILURES`` failures in a row, after a failure while
  not online (a camera that never answered), or when no frame came for
  ``SILENT_INTERVALS`` sampling intervals.
The reason is the failure's own message; ``health_changed_at`` moves when the state does.

Signals (``cameras.signals``): ``frame_stored`` for every stored ``Frame`` (the analysis
pipeline connects to it) and ``camera_health_changed`` for a ``Camera`` whose health or
reason changed. A failing receiver is logged and never stops capture.

Sharding: ``Shard(i, n)`` takes the cameras whose id modulo n is i; run one process per
shard. ``run(stop)`` returns once ``stop`` is set, after the workers have stopped (their
streams closed) and the frames they had grabbed are stored.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db import DatabaseError, close_old_connections, connection
from django.db.models.functions import Mod
from django.utils import timezone

from . import signals
from .frames import store_frame
from .models import Camera, Frame, Health
from .sources import Source, SourceError, open_source

logger = logging.getLogger(__name__)

OFFLINE_AFTER_FAILURES = 3
SILENT_INTERVALS = 3
MIN_SILENCE_SECONDS = 2.0
RELOAD_SECONDS = 5.0
STOP_GRACE_SECONDS = 3.0
GRAB_TIMEOUT = 10.0
# A frame older than this when taken is reported in the camera's health reason.
LATE_FRAME_INTERVALS = 2
LATE_FRAME_SECONDS = 3.0
REASON_LENGTH = 500  # Camera.health_reason's max_length


# ---------------------------------------------------------------- plain data


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"i/n"`` with 0 <= i < n."""
        try:
            index_text, count_text = text.split("/")
            index, count = int(index_text), int(count_text)
        except ValueError:
            raise ValueError(f"shard {text!r}: write i/n, like 0/2") from None
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"shard {text!r}: i must be at least 0 and below n")
        return cls(index, count)

    def takes(self, camera_id: int) -> bool:
        return camera_id % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class CameraPlan:
    """What a worker needs to know of a camera: a snapshot of its row."""

    id: int
    name: str
    source_kind: str
    source_url: str
    username: str
    password: str = field(repr=False)
    sample_interval: float
    timeout: float = GRAB_TIMEOUT

    @classmethod
    def of(cls, camera: Camera) -> CameraPlan:
        return cls(
            id=camera.pk,
            name=camera.name,
            source_kind=camera.source_kind,
            source_url=camera.source_url,
            username=camera.username,
            password=camera.password or "",
            sample_interval=max(0.2, float(camera.sample_interval)),
        )

    def same_source(self, other: CameraPlan) -> bool:
        return replace(self, sample_interval=other.sample_interval, name=other.name) == other


@dataclass(frozen=True)
class Grab:
    """A worker's result: a JPEG or the reason there is none."""

    camera_id: int
    worker: int
    at: datetime
    jpeg: bytes | None = None
    error: str | None = None
    age: float | None = None  # seconds the frame had waited in the source


@dataclass
class HealthState:
    """A camera's health as the service sees it; ``step`` functions below change it."""

    health: str = Health.UNKNOWN
    reason: str = ""
    failures: int = 0
    last_good: float | None = None  # monotonic time of the latest good frame


def after_success(
    state: HealthState, now: float, age: float | None = None, interval: float = 0.0
) -> HealthState:
    """Online; the reason says how old frames are when they come late (``age`` above
    ``LATE_FRAME_INTERVALS`` sampling intervals and ``LATE_FRAME_SECONDS``)."""
    reason = ""
    if age is not None and age > max(LATE_FRAME_INTERVALS * interval, LATE_FRAME_SECONDS):
        reason = f"frames are {age:.0f} s old when taken"
    return HealthState(Health.ONLINE, reason, 0, now)


def after_failure(state: HealthState, reason: str) -> HealthState:
    failures = state.failures + 1
    if failures >= OFFLINE_AFTER_FAILURES or state.health not in (Health.ONLINE, Health.DEGRADED):
        health = Health.OFFLINE
    else:
        health = Health.DEGRADED
    return HealthState(health, reason, failures, state.last_good)


def after_silence(state: HealthState, interval: float, now: float) -> HealthState | None:
    """Offline when no good frame came for ``SILENT_INTERVALS`` intervals; None if fine."""
    if state.health not in (Health.ONLINE, Health.DEGRADED) or state.last_good is None:
        return None
    silent = now - state.last_good
    if silent <= max(SILENT_INTERVALS * interval, MIN_SILENCE_SECONDS):
        return None
    return HealthState(
        Health.OFFLINE, f"no frame for {silent:.0f} s", state.failures, state.last_good
    )


# ---------------------------------------------------------------- workers


class Mailbox:
    """The latest result of each camera, waiting to be stored. A newer result of the
    same camera replaces an older one that was not taken yet."""

    def __init__(self) -> None:
        self._items: dict[int, Grab] = {}
        self._condition = threading.Condition()
        self.replaced = 0

    def post(self, grab: Grab) -> None:
        with self._condition:
            if grab.camera_id in self._items:
                self.replaced += 1
            self._items[grab.camera_id] = grab
            self._condition.notify()

    def take(self, timeout: float) -> list[Grab]:
        with self._condition:
            if not self._items:
                self._condition.wait(timeout)
            items = list(self._items.values())
            self._items.clear()
            return items


_worker_numbers = itertools.count(1)


class CameraWorker:
    """Samples one camera in its own thread, posting every grab to the mailbox."""

    def __init__(
        self,
        plan: CameraPlan,
        mailbox: Mailbox,
        opener: Callable[[CameraPlan], Source],
    ):
        self.plan = plan
        self.number = next(_worker_numbers)
        self._mailbox = mailbox
        self._opener = opener
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"capture camera {plan.id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        source: Source | None = None
        due = time.monotonic()
        try:
            while not self._stop.wait(max(0.0, due - time.monotonic())):
                grab, source = self._grab(source)
                if self._stop.is_set() and grab.jpeg is None:
                    break  # a failure caused by stopping is no news
                self._mailbox.post(grab)
                due = max(due + self.plan.sample_interval, time.monotonic())
        finally:
            if source is not None:
                _close_quietly(source)

    def _grab(self, source: Source | None) -> tuple[Grab, Source | None]:
        plan = self.plan
        try:
            if source is None:
                source = self._opener(plan)
            source.set_interval(plan.sample_interval)
            jpeg = source.grab()
            grab = Grab(plan.id, self.number, timezone.now(), jpeg=jpeg, age=source.frame_age)
            return grab, source
        except SourceError as error:
            return Grab(plan.id, self.number, timezone.now(), error=error.message), source
        except Exception as error:
            logger.exception("camera %s: unexpected error while grabbing", plan.id)
            return (
                Grab(plan.id, self.number, timezone.now(), error=f"unexpected error: {error}"),
                source,
            )


def _close_quietly(source: Source) -> None:
    try:
        source.close()
    except Exception:
        logger.exception("error while closing a source")


def open_plan(plan: CameraPlan) -> Source:
    return open_source(plan, timeout=plan.timeout)


# ---------------------------------------------------------------- the service


class CaptureService:
    """Capture for one shard. ``run(stop)`` until ``stop`` is set, or ``run_once()``."""

    def __init__(
        self,
        shard: Shard | None = None,
        reload_seconds: float = RELOAD_SECONDS,
        opener: Callable[[CameraPlan], Source] = open_plan,
        camera_ids: Iterable[int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.shard = shard or Shard()
        self.reload_seconds = reload_seconds
        self.opener = opener
        self.camera_ids = set(camera_ids) if camera_ids is not None else None
        self.clock = clock
        self.mailbox = Mailbox()
        self.workers: dict[int, CameraWorker] = {}
        self.health: dict[int, HealthState] = {}
        self._retired: list[CameraWorker] = []
        self._last_reload: float | None = None
        self.frames_stored = 0

    # ------------------------------------------------------------ cameras

    def cameras(self) -> list[Camera]:
        """The enabled cameras of this shard."""
        cameras = Camera.objects.filter(enabled=True).order_by("pk")
        if self.camera_ids is not None:
            cameras = cameras.filter(pk__in=self.camera_ids)
        if self.shard.count > 1:
            cameras = cameras.annotate(shard_number=Mod("pk", self.shard.count)).filter(
                shard_number=self.shard.index
            )
        return list(cameras)

    def reload(self) -> None:
        """Start, restart or stop workers to match the camera list."""
        self._last_reload = self.clock()
        cameras = {camera.pk: camera for camera in self.cameras()}
        for camera_id in list(self.workers):
            if camera_id not in cameras:
                self._retire(camera_id)
                logger.info("camera %s: no longer captured here", camera_id)
                self._mark_not_captured(camera_id)
        for camera_id, camera in cameras.items():
            plan = CameraPlan.of(camera)
            worker = self.workers.get(camera_id)
            if worker is not None and worker.plan == plan:
                continue
            if worker is not None and worker.plan.same_source(plan):
                worker.plan = plan
                continue
            if worker is not None:
                self._retire(camera_id)
                logger.info("camera %s: settings changed, reopening", camera_id)
            else:
                logger.info(
                    "camera %s (%s): capturing every %g s",
                    camera_id,
                    plan.name,
                    plan.sample_interval,
                )
            # Silence counts from now: a camera left online by an earlier run that
            # gives nothing goes offline after three intervals.
            self.health.setdefault(
                camera_id,
                HealthState(camera.health, camera.health_reason, last_good=self.clock()),
            )
            worker = CameraWorker(plan, self.mailbox, self.opener)
            self.workers[camera_id] = worker
            worker.start()

    def _retire(self, camera_id: int) -> None:
        worker = self.workers.pop(camera_id)
        worker.stop()
        self._retired.append(worker)
        self._retired = [w for w in self._retired if not w.join(0)]
        self.health.pop(camera_id, None)

    def _mark_not_captured(self, camera_id: int) -> None:
        """A camera disabled: its health is no longer known."""
        changed = (
            Camera.objects.filter(pk=camera_id, enabled=False)
            .exclude(health=Health.UNKNOWN)
            .update(
                health=Health.UNKNOWN, health_reason="disabled", health_changed_at=timezone.now()
            )
        )
        if changed:
            self._broadcast(camera_id)

    # ------------------------------------------------------------ the loop

    def step(self, wait: float = 0.5) -> int:
        """Store what the workers grabbed (waiting up to ``wait`` for it), notice silent
        cameras and reload the camera list when due. Returns how many results it took."""
        if not connection.in_atomic_block:  # a caller's transaction is the caller's
            close_old_connections()
        grabs = self.mailbox.take(wait)
        for grab in grabs:
            try:
                self.handle(grab)
            except Exception:  # the database away, a bug: the other cameras go on
                logger.exception("camera %s: could not record the grab", grab.camera_id)
        now = self.clock()
        for camera_id, worker in list(self.workers.items()):
            state = self.health.get(camera_id)
            if state is None:
                continue
            silent = after_silence(state, worker.plan.sample_interval, now)
            if silent is not None:
                self._set_health(camera_id, silent)
        if self._last_reload is None or now - self._last_reload >= self.reload_seconds:
            try:
                self.reload()
            except DatabaseError:
                logger.exception("could not load the camera list")
        return len(grabs)

    def run(self, stop: threading.Event) -> None:
        logger.info("capture shard %s starting", self.shard)
        try:
            while not stop.is_set():
                self.step()
        finally:
            self.shutdown()
        logger.info("capture shard %s stopped", self.shard)

    def shutdown(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop every worker (closing its source), then store what they had grabbed."""
        workers = list(self.workers.values()) + self._retired
        for worker in workers:
            worker.stop()
        deadline = time.monotonic() + grace
        for worker in workers:
            if not worker.join(max(0.0, deadline - time.monotonic())):
                logger.warning("camera %s: worker still busy at shutdown", worker.plan.id)
        for grab in self.mailbox.take(0):
            try:
                self.handle(grab)
            except DatabaseError:
                logger.exception("camera %s: could not record the grab", grab.camera_id)
        self.workers.clear()
        self._retired.clear()

    # ------------------------------------------------------------ results

    def handle(self, grab: Grab) -> Frame | None:
        """Store a grabbed frame or record a failure; the frame stored, if any."""
        worker = self.workers.get(grab.camera_id)
        if worker is not None and worker.number != grab.worker:
            return None  # from a worker replaced since: its camera's settings changed
        camera = Camera.objects.filter(pk=grab.camera_id, enabled=True).first()
        if camera is None:
            return None
        state = self.health.setdefault(camera.pk, HealthState(camera.health, camera.health_reason))
        if grab.jpeg is None:
            self._set_health(camera.pk, after_failure(state, grab.error or "no frame"))
            return None
        try:
            frame = store_frame(camera, grab.jpeg, grab.at, age=grab.age)
        except SourceError as error:  # the JPEG's header could not be read
            self._set_health(camera.pk, after_failure(state, error.message))
            return None
        except OSError as error:
            logger.error("camera %s: cannot write the frame: %s", camera.pk, error)
            return None
        self.frames_stored += 1
        interval = float(camera.sample_interval)
        self._set_health(camera.pk, after_success(state, self.clock(), grab.age, interval))
        signals.send_logged(signals.frame_stored, Frame, f"frame {frame.pk}", frame=frame)
        return frame

    def _set_health(self, camera_id: int, state: HealthState) -> None:
        previous = self.health.get(camera_id)
        self.health[camera_id] = state
        if previous is not None and (previous.health, previous.reason) == (
            state.health,
            state.reason,
        ):
            return
        if record_health(camera_id, state.health, state.reason):
            self._broadcast(camera_id)

    def _broadcast(self, camera_id: int) -> None:
        camera = Camera.objects.filter(pk=camera_id).first()
        if camera is None:
            return
        signals.send_logged(
            signals.camera_health_changed, Camera, f"camera {camera_id} health", camera=camera
        )

    # ------------------------------------------------------------ once

    def run_once(self, timeout: float = GRAB_TIMEOUT) -> dict[int, HealthState]:
        """Grab one frame from every camera of the shard at once, store them, record
        health; the resulting health of each camera."""
        cameras = self.cameras()
        if not cameras:
            return {}
        plans = [replace(CameraPlan.of(camera), timeout=timeout) for camera in cameras]
        for camera in cameras:
            self.health.setdefault(camera.pk, HealthState(camera.health, camera.health_reason))

        def grab_one(plan: CameraPlan) -> Grab:
            try:
                with self.opener(plan) as source:
                    jpeg = source.grab()
                    return Grab(plan.id, 0, timezone.now(), jpeg=jpeg, age=source.frame_age)
            except SourceError as error:
                return Grab(plan.id, 0, timezone.now(), error=error.message)
            except Exception as error:
                logger.exception("camera %s: unexpected error while grabbing", plan.id)
                return Grab(plan.id, 0, timezone.now(), error=f"unexpected error: {error}")

        with ThreadPoolExecutor(max_workers=min(8, len(plans))) as pool:
            grabs = list(pool.map(grab_one, plans))
        for grab in grabs:
            self.handle(grab)
        return {camera.pk: self.health[camera.pk] for camera in cameras}


def record_health(camera_id: int, health: str, reason: str) -> bool:
    """Write a camera's health and reason when they differ from the stored ones;
    ``health_changed_at`` moves only with the state. Whether anything changed."""
    reason = reason[:REASON_LENGTH]
    now = timezone.now()
    changed = (
        Camera.objects.filter(pk=camera_id)
        .exclude(health=health)
        .update(health=health, health_reason=reason, health_changed_at=now)
    )
    if not changed:
        changed = (
            Camera.objects.filter(pk=camera_id, health=health)
            .exclude(health_reason=reason)
            .update(health_reason=reason)
        )
    if changed:
        log = logger.warning if health in (Health.OFFLINE, Health.DEGRADED) else logger.info
        log("camera %s: %s%s", camera_id, health, f" ({reason})" if reason else "")
    return bool(changed)
