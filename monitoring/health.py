"""``GET /healthz``: is the database, Redis and at least one Celery worker answering?

Answers 200 when all three are up and 503 naming what is down. Open to anonymous
callers (load balancers and supervisors probe it) and says nothing but states.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

UP = "up"
DOWN = "down"
NOT_CONFIGURED = "not configured"


def check_database() -> tuple[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return DOWN, f"{type(exc).__name__}: {exc}"
    return UP, ""


def check_redis() -> tuple[str, str]:
    if not settings.REDIS_URL:
        return NOT_CONFIGURED, "REDIS_URL is not set: cache and channels are in-process"
    import redis

    from monitoring.lib.env import parse_redis_url

    try:
        client = redis.Redis.from_url(
            parse_redis_url(settings.REDIS_URL).redis,
            socket_connect_timeout=1,
            socket_timeout=1,
        )
        client.ping()
        client.close()
    except Exception as exc:
        return DOWN, f"{type(exc).__name__}: {exc}"
    return UP, ""


def check_worker() -> tuple[str, str]:
    if not settings.REDIS_URL:
        return NOT_CONFIGURED, "no broker: tasks run inside the calling process"
    from monitoring.celery import app
    from monitoring.lib.env import parse_redis_url

    try:
        # A connection of its own, to the broker the settings name now.
        with app.connection_for_write(parse_redis_url(settings.REDIS_URL).celery) as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
            replies = app.control.ping(timeout=1.0, connection=conn)
    except Exception as exc:
        return DOWN, f"{type(exc).__name__}: {exc}"
    if not replies:
        return DOWN, "no Celery worker answered within 1 s"
    return UP, f"{len(replies)} worker(s) answered"


CHECKS = {"database": check_database, "redis": check_redis, "worker": check_worker}


@login_not_required
@never_cache
@require_GET
def healthz(request):
    body: dict = {}
    details: dict = {}
    for name, check in CHECKS.items():
        state, detail = check()
        body[name] = state
        if detail:
            details[name] = detail
    down = [name for name in CHECKS if body[name] != UP]
    body["status"] = "ok" if not down else "unhealthy"
    body["down"] = down
    body["details"] = details
    if down:
        logger.warning("healthz: %s", ", ".join(f"{n} {body[n]}" for n in down))
    return JsonResponse(body, status=200 if not down else 503)
