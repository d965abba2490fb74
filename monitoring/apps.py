from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _frame_stored(sender, frame, **kwargs) -> None:
    from monitoring.tasks import enqueue_analysis

    enqueue_analysis(frame)


def _camera_health_changed(sender, camera, **kwargs) -> None:
    from monitoring.pipeline import on_camera_health

    on_camera_health(camera)


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Analysis")

    def ready(self) -> None:
        # The capture service stores frames and tracks camera health; the pipeline
        # analyses every stored frame and tells browsers about health changes.
        from cameras import signals

        signals.frame_stored.connect(_frame_stored, dispatch_uid="monitoring.analyse_frame")
        signals.camera_health_changed.connect(
            _camera_health_changed, dispatch_uid="monitoring.camera_status"
        )
        # The pipeline keeps each camera's setup between frames until it changes.
        from monitoring import camera_setup

        camera_setup.connect()
        # A vendor stop that opens or lifts updates the health of the analyses it holds.
        from monitoring import analysis_health  # noqa: F401
