"""``manage.py capture [--shard i/n] [--once]``: the capture service.

Holds every enabled camera of its shard open and stores a frame from each at its
sampling interval (``cameras.capture``). Cameras added, removed or changed are picked up
within ``--reload`` seconds. SIGTERM or Ctrl-C stops it: streams are closed and frames
already grabbed are stored first. ``--once`` grabs one frame from each camera, stores
it, records health, prints a line per camera and exits.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from cameras.capture import RELOAD_SECONDS, CaptureService, Shard


class Command(BaseCommand):
    help = (
        "Run the capture service: sample every enabled camera of this shard at its "
        "interval, store frames and keep camera health current. SIGTERM stops it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--shard",
            default="0/1",
            metavar="I/N",
            help="Take the cameras whose id modulo N is I (default 0/1: all of them).",
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Grab one frame from each camera, store it, print the health and exit.",
        )
        parser.add_argument(
            "--reload",
            type=float,
            default=RELOAD_SECONDS,
            metavar="SECONDS",
            help=f"How often to reload the camera list (default {RELOAD_SECONDS:g}).",
        )
        parser.add_argument(
            "--camera",
            type=int,
            action="append",
            metavar="ID",
            help="Only this camera (repeatable).",
        )

    def handle(self, *args, shard, once, reload, camera, **options):
        try:
            parsed = Shard.parse(shard)
        except ValueError as error:
            raise CommandError(str(error), returncode=2) from None
        if reload <= 0:
            raise CommandError("--reload must be above 0", returncode=2)
        service = CaptureService(shard=parsed, reload_seconds=reload, camera_ids=camera)
        if once:
            self._once(service)
            return
        stop = threading.Event()

        def ask_stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, ask_stop)
        signal.signal(signal.SIGINT, ask_stop)
        self.stdout.write(f"capture | shard {parsed}: starting (SIGTERM or Ctrl-C stops)")
        self.stdout.flush()
        service.run(stop)
        self.stdout.write(
            f"capture | shard {parsed}: stopped, {service.frames_stored} frames stored"
        )

    def _once(self, service: CaptureService) -> None:
        cameras = {camera.pk: camera for camera in service.cameras()}
        results = service.run_once()
        if not results:
            self.stdout.write(f"capture | shard {service.shard}: no enabled camera")
        for camera_id, state in results.items():
            line = f"camera {camera_id} {cameras[camera_id].name!r}: {state.health}"
            if state.reason:
                line += f" ({state.reason})"
            style = self.style.SUCCESS if state.health == "online" else self.style.WARNING
            self.stdout.write(style(line))
