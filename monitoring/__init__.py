"""The Django project package and the analysis side of the dashboard.

Importing it loads the Celery app so that ``@shared_task`` binds to it.
"""

from monitoring.celery import app as celery_app

__all__ = ("celery_app",)
