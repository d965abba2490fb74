"""Websocket fan-out: one alert event to ``--clients`` browsers of a site.

``--clients`` websocket clients (signed in as an operator of the site) connect to one
real daphne with the Redis channel layer; then ``--events`` alert events are published
the product's way (``alerts.events.publish_alert``: stored, then sent to the site's
group), one every ``--gap`` seconds. For each event and client, the delivery time is
from just before ``publish_alert`` to the client reading the event.

Before measuring, ``--warmup`` alert events are published to another site (no client
watches it): a publishing process pays once for loading the channel layer and connecting
to Redis and the task queue, which is not fan-out (``--warmup 0`` counts it in the first
event).

    .venv/bin/python bench/ws_fanout.py [--clients 1000] [--events 5]

Needs PostgreSQL and redis-server as ``bench/pipeline_latency.py`` does; loopback only.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_latency import Services, WebSocket, arguments, make_scene, percentile

# The project's settings with a given channels_redis layer.
LAYER_SETTINGS = """
from monitoring.settings import *  # noqa: F403

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "%s",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": "ssd-channels"},  # noqa: F405
    }
}
"""
LAYERS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
CONNECT_BATCH = 100
CONNECT_TIMEOUT = 180.0


async def connect_all(port: int, cookie: str, count: int) -> list[WebSocket]:
    sockets: list[WebSocket] = []
    deadline = time.monotonic() + CONNECT_TIMEOUT

    async def one() -> WebSocket:
        socket_ = await WebSocket.connect(port, cookie)
        hello = await socket_.receive()
        if not hello or hello.get("type") != "hello":
            raise ConnectionError(f"unexpected first message {hello!r}")
        return socket_

    while len(sockets) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(sockets)} clients connected in {CONNECT_TIMEOUT:g} s")
        batch = min(CONNECT_BATCH, count - len(sockets))
        sockets += await asyncio.gather(*(one() for _ in range(batch)))
    return sockets


async def wait_event(socket_: WebSocket, event_id: int, timeout: float) -> float | None:
    """When ``socket_`` read the event ``event_id``; None if it did not within
    ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while (message := await socket_.receive()) is not None:
                if message.get("id") == event_id:
                    return time.perf_counter()
    except TimeoutError:
        return None
    return None


async def run(args, port: int, cookie: str, alert, warmup_alert) -> tuple[list[float], int, float]:
    from alerts import events

    started = time.perf_counter()
    sockets = await connect_all(port, cookie, args.clients)
    connect_seconds = time.perf_counter() - started
    loop = asyncio.get_running_loop()
    for _number in range(args.warmup):
        await loop.run_in_executor(None, events.publish_alert, warmup_alert, "alert.opened")
    delays: list[float] = []
    missed = 0
    per_event = []
    for _number in range(args.events):
        await asyncio.sleep(args.gap)
        next_id = await loop.run_in_executor(None, _next_event_id)
        waiters = [asyncio.create_task(wait_event(s, next_id, 30.0)) for s in sockets]
        await asyncio.sleep(0)
        begin = time.perf_counter()
        event = await loop.run_in_executor(None, events.publish_alert, alert, "alert.opened")
        assert event.pk == next_id, (event.pk, next_id)
        arrivals = await asyncio.gather(*waiters)
        got = [(arrived - begin) * 1000 for arrived in arrivals if arrived is not None]
        missed += len(arrivals) - len(got)
        delays += got
        per_event.append((len(got), max(got, default=0.0)))
    await asyncio.gather(*(s.close() for s in sockets))
    print("per event (clients reached, slowest ms):", [(n, round(m)) for n, m in per_event])
    return delays, missed, connect_seconds


def _next_event_id() -> int:
    """The id the next live event gets (the benchmark is the only writer meanwhile)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value, is_called FROM alerts_liveevent_id_seq")
        last, called = cursor.fetchone()
    return last + 1 if called else last


def make_alert(camera):
    from django.utils import timezone

    from alerts.models import Alert

    rule = camera.rules.get()
    now = timezone.now()
    return Alert.objects.create(
        rule=rule,
        camera=camera,
        region=rule.region,
        site_id=camera.site_id,
        kind=rule.kind,
        severity="critical",
        title=rule.name,
        summary="1 person inside fence 'Fence'",
        opened_at=now,
        last_seen_at=now,
        best_score=0.9,
    )


def main() -> None:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="websocket clients (1000)")
    parser.add_argument("--events", type=int, default=5, help="alert events sent (5)")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between events (1)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="alert events published to another site before measuring (1)",
    )
    parser.add_argument(
        "--layer",
        choices=["project", *LAYERS],
        default="project",
        help="channel layer: the settings' (project: Redis pub/sub), or channels_redis's core "
        "or pubsub layer",
    )
    args = parser.parse_args()
    if not 1 <= args.clients <= 5000 or not 1 <= args.events <= 100:
        raise SystemExit("--clients must be 1 to 5000, --events 1 to 100")
    if not 0 <= args.warmup <= 10:
        raise SystemExit("--warmup must be 0 to 10")
    services = Services()
    try:
        if args.layer in LAYERS:
            services.use_settings(LAYER_SETTINGS % LAYERS[args.layer])
        services.prepare(args.database_url, services.start_redis())
        port = services.start_daphne()
        _site, (camera,), cookie = make_scene("fan-out")
        alert = make_alert(camera)
        _other_site, (other_camera,), _other_cookie = make_scene("fan-out warm-up")
        warmup_alert = make_alert(other_camera)
        delays, missed, connect_seconds = asyncio.run(run(args, port, cookie, alert, warmup_alert))
        print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
        print(
            f"{args.clients} clients on one daphne (connected in {connect_seconds:.1f} s), "
            f"{args.events} alert events after {args.warmup} warm-up; "
            f"load average {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} CPUs"
        )
        if delays:
            print(
                f"delivery ms: p50 {percentile(delays, 0.5):.1f}"
                f"  p95 {percentile(delays, 0.95):.1f}  p99 {percentile(delays, 0.99):.1f}"
                f"  max {max(delays):.1f}"
                f"  mean {statistics.fmean(delays):.1f}"
            )
        print(f"deliveries: {len(delays)} of {args.clients * args.events}, missed {missed}")
        met = bool(delays) and percentile(delays, 0.95) <= 500 and not missed
        print(f"goal p95 <= 500 ms: {'met' if met else 'NOT met'}")
    finally:
        services.stop()


if __name__ == "__main__":
    main()
