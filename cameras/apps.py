from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate
from django.utils.translation import gettext_lazy as _


class CamerasConfig(AppConfig):
    name = "cameras"
    verbose_name = _("Sites and cameras")

    def ready(self) -> None:
        from cameras.models import Camera
        from cameras.roles import ensure_roles_after_migrate

        post_migrate.connect(ensure_roles_after_migrate, sender=self)
        post_delete.connect(
            _delete_files_of_deleted_camera, sender=Camera, dispatch_uid="camera-files"
        )


def _delete_files_of_deleted_camera(sender, instance, **kwargs) -> None:
    """Once a camera's deletion commits (from any page, the API, the admin or its
    site's deletion), a worker deletes its frame and evidence files."""
    from django.db import transaction

    camera_id = instance.pk
    transaction.on_commit(lambda: _queue_file_deletion(camera_id))


def _queue_file_deletion(camera_id: int) -> None:
    import logging

    from cameras import storage
    from cameras.tasks import delete_camera_files

    try:
        delete_camera_files.delay(camera_id)
    except Exception as error:  # the broker away: deleted here and now instead
        logging.getLogger(__name__).warning(
            "camera %s: file deletion not queued (%s); deleting now", camera_id, error
        )
        storage.delete_camera_files(camera_id)
