"""Recorded pictures played as a camera: a video file or a folder of images, looped.

A video plays in real time from when the source was opened: each ``grab()`` returns the
frame showing at that moment (frames in between are decoded and dropped, far jumps
seek), and after the last frame it starts again from the first. An image folder yields
its images in name order, one per grab, and starts again after the last; a single image
file is a folder of one. A path may be written plainly or as a ``file://`` URL.

Only paths under ``settings.CAMERA_FILE_ROOTS`` are read, judged after resolving links
(a link out of a root is outside), and never the product's own ``DATA_DIR`` or
``MEDIA_ROOT`` (other sites' frames and evidence). Every refusal says the same words,
whether the path exists or not (``OUTSIDE_ROOTS``), so a refusal tells nothing about the
server's files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import av
import av.error
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .base import Source, SourceError, SourceSettings, as_jpeg, encode_jpeg

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# Further ahead than this, a seek is cheaper than decoding the frames in between.
SEEK_AHEAD_SECONDS = 10.0


OUTSIDE_ROOTS = _(
    "This path is not in a folder that file sources may read (CAMERA_FILE_ROOTS in the "
    "server's configuration)."
)


def path_of(url: str) -> Path:
    if url.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    return Path(url).expanduser()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def allowed_path(url: str) -> Path | None:
    """The real path ``url`` names when it lies in a configured root (and outside the
    product's own data), else None."""
    try:
        path = path_of(url)
        if not path.is_absolute():
            return None
        real = Path(os.path.realpath(path))
    except (OSError, ValueError):
        return None
    private = [
        Path(os.path.realpath(folder)) for folder in (settings.DATA_DIR, settings.MEDIA_ROOT)
    ]
    if any(_inside(real, folder) for folder in private):
        return None
    roots = [Path(os.path.realpath(root)) for root in settings.CAMERA_FILE_ROOTS]
    if any(_inside(real, root) for root in roots):
        return real
    return None


def open_file_source(source_settings: SourceSettings) -> Source:
    path = allowed_path(source_settings.url)
    if path is None:
        raise SourceError(str(OUTSIDE_ROOTS))
    if not path.exists():
        raise SourceError(f"file not found: {path}")
    if path.is_dir():
        return ImageFolderSource(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolderSource(path)
    return VideoFileSource(path)


class ImageFolderSource(Source):
    """The images of a folder (or one image file) in name order, looped."""

    kind = "file"

    def __init__(self, path: Path):
        self.path = path
        self._images = self._list()
        self._index = 0

    def _list(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        if not self.path.is_dir():
            raise SourceError(f"folder not found: {self.path}")
        images = sorted(
            item
            for item in self.path.iterdir()
            if item.suffix.lower() in IMAGE_SUFFIXES
            and item.is_file()
            # a link in the folder may point out of the roots
            and allowed_path(str(item)) is not None
        )
        if not images:
            raise SourceError(
                f"no images in {self.path} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        return images

    def grab(self) -> bytes:
        if self._index >= len(self._images):
            self._images = self._list()  # a new round: pick up added or removed files
            self._index = 0
        image = self._images[self._index]
        self._index += 1
        try:
            data = image.read_bytes()
        except FileNotFoundError:
            raise SourceError(f"file not found: {image}") from None
        except OSError as error:
            raise SourceError(f"cannot read {image}: {error.strerror or error}") from None
        return as_jpeg(data, what=f"{image.name}")


class VideoFileSource(Source):
    """A video file played in real time from when it was opened, looped."""

    kind = "file"

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic):
        self.path = path
        self._clock = clock
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._origin: float | None = None  # time of the first frame in the file
        self._step = 1 / 25  # seconds per frame, refined from the stream's rate
        self._shown: av.VideoFrame | None = None
        self._shown_time = 0.0
        self._pending: tuple[av.VideoFrame, float] | None = None
        self._decoded = 0
        self.length: float | None = None  # learned at the first end of the file
        self._open()
        self._started = clock()

    def _open(self) -> None:
        try:
            container = av.open(str(self.path))
        except FileNotFoundError:
            raise SourceError(f"file not found: {self.path}") from None
        except av.error.FFmpegError as error:
            raise SourceError(f"cannot read video file {self.path}: {error}") from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"no video in {self.path}")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if stream.average_rate:
            self._step = float(1 / stream.average_rate)
        self._container = container
        self._rewind()

    def _rewind(self) -> None:
        assert self._container is not None
        if self._frames is not None:
            try:
                self._container.seek(0)
            except av.error.FFmpegError as error:
                raise SourceError(f"cannot loop {self.path}: {error}") from None
        self._frames = self._container.decode(video=0)
        self._shown = None
        self._pending = None
        self._decoded = 0

    def _next(self) -> tuple[av.VideoFrame, float] | None:
        """The next frame and its time from the start of the file, or None at the end."""
        if self._pending is not None:
            return self._pending
        assert self._frames is not None
        try:
            frame = next(self._frames)
        except StopIteration:
            return None
        except av.error.FFmpegError as error:
            raise SourceError(f"corrupt video {self.path}: {error}") from None
        moment = frame.time if frame.time is not None else self._decoded * self._step
        if self._origin is None:
            self._origin = moment
        self._decoded += 1
        self._pending = (frame, max(0.0, moment - self._origin))
        return self._pending

    def _position(self) -> float:
        elapsed = self._clock() - self._started
        return elapsed % self.length if self.length else elapsed

    def grab(self) -> bytes:
        if self._container is None:
            raise SourceError("the source is closed")
        target = self._position()
        if self._shown is not None and target < self._shown_time:
            self._rewind()
        elif self._shown is not None and target - self._shown_time > SEEK_AHEAD_SECONDS:
            self._seek_near(target)
        while True:
            upcoming = self._next()
            if upcoming is None:
                if self._shown is None:
                    raise SourceError(f"no frame in {self.path}")
                # The end: now the length is known; play on from the start.
                self.length = self._shown_time + self._step
                if target >= self.length:
                    target %= self.length
                    self._rewind()
                    continue
                break
            frame, moment = upcoming
            if self._shown is not None and moment > target:
                break
            self._shown, self._shown_time, self._pending = frame, moment, None
        return encode_jpeg(self._shown.to_image())

    def _seek_near(self, target: float) -> None:
        assert self._container is not None
        stream = self._container.streams.video[0]
        if not stream.time_base or self._origin is None:
            return
        try:
            self._container.seek(
                int((target + self._origin) / stream.time_base), stream=stream, backward=True
            )
        except av.error.FFmpegError:
            return
        self._frames = self._container.decode(video=0)
        self._pending = None
        self._shown = None

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
