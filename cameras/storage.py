"""Where frames and evidence live, and deleting them.

Frames (``frames/<camera>/...``) and evidence pictures (``evidence/<camera>/...``) are
written and read only through Django's storage API (``storages["default"]``): local disk
under ``MEDIA_ROOT`` by default, an S3-compatible bucket when ``S3_BUCKET`` is set
(``monitoring/settings.py``). This module owns reading one whole (``read_file``: one
request to S3) and deleting them: files by name
(retention) and everything of a camera (when the camera is deleted, after the deletion
commits, by the ``cameras.tasks.delete_camera_files`` task).

A file that cannot be deleted is logged and skipped; it never stops the others.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator

from django.core.files.storage import FileSystemStorage, Storage, storages

logger = logging.getLogger(__name__)

# The folders (object name prefixes) holding a camera's files.
CAMERA_FOLDERS = ("frames/{camera_id}", "evidence/{camera_id}")
S3_DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes


def media_storage() -> Storage:
    return storages["default"]


def read_file(name: str, storage: Storage | None = None) -> bytes:
    """The content of the stored file ``name``; FileNotFoundError when there is none.
    From S3 in one GET (``storage.open`` would ask for the object's head twice first)."""
    storage = storage or media_storage()
    bucket = getattr(storage, "bucket", None)
    if bucket is None:
        with storage.open(name, "rb") as stored:
            return stored.read()
    from botocore.exceptions import ClientError

    try:
        answer = bucket.Object(storage._normalize_name(name)).get()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise FileNotFoundError(name) from None
        raise OSError(f"cannot read {name}: {error}") from error
    return answer["Body"].read()


def delete_files(names: Iterable[str], storage: Storage | None = None) -> int:
    """Delete the files of these names; how many deletions were asked without error."""
    storage = storage or media_storage()
    deleted = 0
    for name in names:
        if not name:
            continue
        try:
            storage.delete(name)
            deleted += 1
        except Exception as error:  # OSError on disk, botocore's errors on S3
            logger.warning("could not delete media file %s: %s", name, error)
    return deleted


def delete_camera_files(camera_id: int, storage: Storage | None = None) -> int:
    """Delete every frame and evidence file of camera ``camera_id``; how many."""
    storage = storage or media_storage()
    deleted = 0
    for folder in CAMERA_FOLDERS:
        deleted += delete_folder(folder.format(camera_id=int(camera_id)), storage)
    if deleted:
        logger.info("camera %s: %s media files deleted", camera_id, deleted)
    return deleted


def delete_folder(folder: str, storage: Storage | None = None) -> int:
    """Delete every file under ``folder``; how many."""
    storage = storage or media_storage()
    bucket = getattr(storage, "bucket", None)
    if bucket is not None:  # S3: list and delete by prefix, a thousand keys a request
        return _delete_s3_prefix(storage, folder)
    deleted = delete_files(walk(storage, folder), storage)
    if isinstance(storage, FileSystemStorage):
        _remove_empty_folders(storage, folder)
    return deleted


def walk(storage: Storage, folder: str) -> Iterator[str]:
    """The names of every file under ``folder`` (none when it does not exist)."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from walk(storage, f"{folder}/{sub}")


def _delete_s3_prefix(storage, folder: str) -> int:
    prefix = storage._normalize_name(folder.rstrip("/") + "/")
    deleted = 0
    keys: list[dict] = []
    try:
        for item in storage.bucket.objects.filter(Prefix=prefix):
            keys.append({"Key": item.key})
            if len(keys) == S3_DELETE_BATCH:
                deleted += _delete_s3_keys(storage, keys)
                keys = []
        if keys:
            deleted += _delete_s3_keys(storage, keys)
    except Exception as error:
        logger.warning("could not delete media under %s: %s", prefix, error)
    return deleted


def _delete_s3_keys(storage, keys: list[dict]) -> int:
    answer = storage.bucket.delete_objects(Delete={"Objects": keys, "Quiet": True})
    errors = answer.get("Errors") or []
    for error in errors:
        logger.warning("could not delete media object %s: %s", error.get("Key"), error)
    return len(keys) - len(errors)


def _remove_empty_folders(storage: FileSystemStorage, folder: str) -> None:
    """Local disk only: the folders emptied above go too (an object store has none)."""
    for path, _folders, _files in os.walk(storage.path(folder), topdown=False):
        with contextlib.suppress(OSError):  # not empty: a file written meanwhile stays
            os.rmdir(path)
