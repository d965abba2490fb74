"""The Celery app: configured from Django settings (``CELERY_*``), tasks autodiscovered.

Database connections in a worker live as they do in the web process between requests.
Celery's Django fix-up closes every connection before and after each task unless
``CELERY_DB_REUSE_MAX`` is set; reconnecting to PostgreSQL then costs more than a whole
frame's analysis. The settings set it out of reach, and these signal handlers close
connections the way Django does around a request instead: when broken, after an error
that left them unusable, or older than ``CONN_MAX_AGE``.
"""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring.settings")

app = Celery("monitoring")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_connections(sender=None, **kwargs) -> None:
    """Drop database connections that are unusable or past ``CONN_MAX_AGE``."""
    request = getattr(sender, "request", None)
    if getattr(request, "is_eager", False):
        return
    from django.db import close_old_connections as close

    close()
