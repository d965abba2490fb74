"""Sustained frames per second of one Celery worker process running the pipeline, with
an instant analyzer.

``--frames`` frames of ``--cameras`` cameras are stored first (as capture stores them:
file, row, frame hook queueing the task), then one worker process (``--pool solo`` by
default) works through the queue. Every frame runs the whole pipeline: the gate, the
on-box ``persons`` analysis through the metered path (gate check and ledger row), the
fence rule with its state and the alert it keeps updated, ``frame.analyzed`` stored and
sent to the channel layer. The rate is frames finished over the time from the first
frame started to the last one finished, read from the pipeline's own records.

    .venv/bin/python bench/pipeline_throughput.py [--frames 1000] [--cameras 4]

Needs PostgreSQL and redis-server as ``bench/pipeline_latency.py`` does; loopback only.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_latency import Services, arguments, cpu_seconds, jpeg, make_scene


def main() -> None:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=1000, help="frames to analyse (1000)")
    parser.add_argument("--cameras", type=int, default=4, help="cameras they come from (4)")
    parser.add_argument("--pool", default="solo", help="Celery pool (solo: one process)")
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes (1)")
    parser.add_argument("--timeout", type=float, default=600, help="give up after (s)")
    args = parser.parse_args()
    if not 1 <= args.frames <= 20_000 or not 1 <= args.cameras <= 100:
        raise SystemExit("--frames must be 1 to 20000, --cameras 1 to 100")
    services = Services()
    try:
        services.prepare(args.database_url, services.start_redis(), args.scene, args.storage)
        from django.db.models import Max, Min
        from django.utils import timezone

        from cameras.frames import store_frame
        from monitoring.analysis_models import FrameRun
        from monitoring.tasks import send_analysis

        _site, cameras, _cookie = make_scene(
            "throughput", cameras=args.cameras, sample_interval=3600
        )
        data = jpeg()
        per_camera = -(-args.frames // args.cameras)
        start = timezone.now() - timedelta(seconds=per_camera + 1)
        frames = []
        for number in range(args.frames):
            camera = cameras[number % len(cameras)]
            taken = start + timedelta(seconds=number // len(cameras))
            frames.append(store_frame(camera, data, taken).pk)
        for frame_id in frames:
            send_analysis(frame_id)
        worker = services.start_worker("worker", pool=args.pool, concurrency=args.concurrency)
        cpu_before = cpu_seconds(worker.pid)
        runs = FrameRun.objects.filter(frame_id__in=frames)
        deadline = time.monotonic() + args.timeout
        while runs.filter(finished_at__isnull=False).count() < len(frames):
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        cpu_used = cpu_seconds(worker.pid) - cpu_before
        finished = runs.filter(finished_at__isnull=False)
        span = finished.aggregate(first=Min("started_at"), last=Max("finished_at"))
        seconds = (span["last"] - span["first"]).total_seconds()
        statuses = dict(
            (status, finished.filter(status=status).count()) for status in ("analyzed", "dropped")
        )
        count = finished.count()
        print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
        print(
            f"frames: {count} of {len(frames)} finished ({statuses}), {args.cameras} cameras, "
            f"worker --pool {args.pool} --concurrency {args.concurrency}, scene {args.scene}; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        print(
            f"sustained: {count / seconds:.1f} frames/s over {seconds:.1f} s "
            f"({seconds / count * 1000:.1f} ms per frame)"
        )
        if args.pool == "solo":
            print(f"worker process CPU: {cpu_used / count * 1000:.1f} ms per frame")
        print(f"goal >= 50 frames/s: {'met' if count / seconds >= 50 else 'NOT met'}")
    finally:
        services.stop()


if __name__ == "__main__":
    main()
