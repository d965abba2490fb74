"""CPU per camera of the capture service reading RTSP, and the age of the frames it hands
over, against GStreamer's RTSP server on loopback (the server the tests use,
``tests/rtsp_server.py``: H.264 from x264, an animated zone plate so that every frame
carries detail).

For each stream (1080p and 720p at 25 fps, a keyframe every 2 s and every 10 s) and each
camera count (1 and 8, all reading the same shared mount so that the server encodes once),
the capture service's own workers (``cameras.capture.CameraWorker`` with
``RtspSource``: demux, decode what is handed over, JPEG-encode it) sample every camera
every ``--interval`` seconds for ``--seconds``; the CPU time of this process over that
window, per camera and per second of stream, is the cost (the frames are not stored:
storing is the same whatever the decoding). For comparison, in the same process and
window: decoding every frame (what capture did before) and demuxing only (the floor).

    .venv/bin/python bench/capture_cost.py [--seconds 20] [--interval 2]
        [--streams 1080p-2s,1080p-10s,720p-2s,720p-10s] [--cameras 1,8]
        [--modes capture,every-frame,demux]

Needs GStreamer's RTSP server for the system Python (``.ci/test-deps.sh``). The machine
is shared: keep runs short.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring.settings")

import django  # noqa: E402

django.setup()

import av  # noqa: E402

from cameras.capture import CameraPlan, CameraWorker, Mailbox, open_plan  # noqa: E402
from tests.rtsp_server import SERVER, RtspServer  # noqa: E402
from tests.servers import free_port  # noqa: E402

FPS = 25
STREAMS = {
    "1080p-2s": ((1920, 1080), 2, 4000),
    "1080p-10s": ((1920, 1080), 10, 4000),
    "720p-2s": ((1280, 720), 2, 2000),
    "720p-10s": ((1280, 720), 10, 2000),
}
PATTERN = "zone-plate kx2=20 ky2=20 kt=1"


def cpu() -> float:
    times = os.times()
    return times.user + times.system


def run_capture(url: str, cameras: int, interval: float, seconds: float, warmup: float):
    """The capture service's workers; CPU seconds over the window and the frame ages."""
    mailbox = Mailbox()
    plans = [
        CameraPlan(
            id=number,
            name=f"camera {number}",
            source_kind="rtsp",
            source_url=url,
            username="",
            password="",
            sample_interval=interval,
            timeout=20.0,
        )
        for number in range(cameras)
    ]
    workers = [CameraWorker(plan, mailbox, open_plan) for plan in plans]
    for worker in workers:
        worker.start()
    ages: list[float] = []
    errors: list[str] = []
    frames = 0
    started = time.monotonic()
    window_start = None
    cpu_start = 0.0
    while True:
        now = time.monotonic()
        if window_start is None and now - started >= warmup:
            window_start, cpu_start = now, cpu()
        if window_start is not None and now - window_start >= seconds:
            break
        for grab in mailbox.take(0.5):
            if window_start is None:
                continue
            if grab.jpeg is None:
                errors.append(grab.error or "")
                continue
            frames += 1
            if grab.age is not None:
                ages.append(grab.age)
    used = cpu() - cpu_start
    wall = time.monotonic() - window_start
    for worker in workers:
        worker.stop()
    for worker in workers:
        worker.join(5)
    return used, wall, frames, ages, errors


def run_reference(url: str, cameras: int, seconds: float, warmup: float, decode: bool):
    """Reading every camera's stream in a thread: decoding every frame, or demux only."""
    stop = threading.Event()
    counts = [0] * cameras

    errors: list[str] = []

    def read(number: int) -> None:
        try:
            container = av.open(url, options={"rtsp_transport": "tcp"}, timeout=(20, 20))
        except av.error.FFmpegError as error:
            errors.append(str(error))
            return
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            source = container.decode(stream) if decode else container.demux(stream)
            for _item in source:
                counts[number] += 1
                if stop.is_set():
                    break
        except av.error.FFmpegError as error:
            errors.append(str(error))
        finally:
            container.close()

    threads = [threading.Thread(target=read, args=(n,), daemon=True) for n in range(cameras)]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    cpu_start, wall_start = cpu(), time.monotonic()
    time.sleep(seconds)
    used, wall = cpu() - cpu_start, time.monotonic() - wall_start
    stop.set()
    for thread in threads:
        thread.join(5)
    return used, wall, sum(counts), [], errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window (20)")
    parser.add_argument("--warmup", type=float, default=6.0, help="before the window (6)")
    parser.add_argument("--interval", type=float, default=2.0, help="sampling interval (2)")
    parser.add_argument("--streams", default=",".join(STREAMS))
    parser.add_argument("--cameras", default="1,8")
    parser.add_argument("--modes", default="capture,every-frame,demux")
    args = parser.parse_args()
    script = Path(tempfile.mkdtemp(prefix="capture-cost-")) / "rtsp_server.py"
    script.write_text(SERVER)
    print(
        f"sampling every {args.interval:g} s, {args.seconds:g} s measured after "
        f"{args.warmup:g} s; CPU seconds of this process per camera per second"
    )
    print(
        "| stream | cameras | mode | CPU/camera/s | cameras per core | frames "
        "| age median | age max |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in args.streams.split(","):
        size, keyframe_seconds, bitrate = STREAMS[name]
        server = RtspServer(
            script,
            free_port(),
            size=size,
            fps=FPS,
            keyint=keyframe_seconds * FPS,
            pattern=PATTERN,
            bitrate=bitrate,
        )
        server.start()
        try:
            for cameras in (int(text) for text in args.cameras.split(",")):
                for mode in args.modes.split(","):
                    # The first keyframe may be a whole keyframe interval away.
                    warmup = max(args.warmup, keyframe_seconds + 3)
                    if mode == "capture":
                        result = run_capture(
                            server.url, cameras, args.interval, args.seconds, warmup
                        )
                    else:
                        result = run_reference(
                            server.url, cameras, args.seconds, warmup, mode == "every-frame"
                        )
                    used, wall, frames, ages, errors = result
                    per_camera = used / wall / cameras
                    median = f"{statistics.median(ages):.2f} s" if ages else "-"
                    oldest = f"{max(ages):.2f} s" if ages else "-"
                    print(
                        f"| {name} | {cameras} | {mode} | {per_camera:.4f} | "
                        f"{1 / per_camera:.0f} | {frames} | {median} | {oldest} |"
                        + (f" errors: {errors[:2]}" if errors else ""),
                        flush=True,
                    )
        finally:
            server.kill()


if __name__ == "__main__":
    main()
