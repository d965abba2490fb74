from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _frame_stored(frame) -> None:
    from monitoring.tasks import enqueue_analysis

    enqueue_analysis(frame)


def _camera_health_changed(camera) -> None:
    from monitoring.pipeline import on_camera_health

    on_camera_health(camera)


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Analysis")

    def ready(self) -> None:
        # The capture service stores frames and tracks camera health; the pipeline
        # analyses every stored frame and tells browsers about health changes.
        from cameras import capture

        if _frame_stored not in capture.FRAME_HOOKS:
            capture.FRAME_HOOKS.append(_frame_stored)
        if _camera_health_changed not in capture.HEALTH_HOOKS:
            capture.HEALTH_HOOKS.append(_camera_health_changed)
        # The pipeline keeps each camera's setup between frames until it changes.
        from monitoring import camera_setup

        camera_setup.connect()
