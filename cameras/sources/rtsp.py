"""RTSP streams, read with PyAV (FFmpeg) over TCP.

A background reader thread keeps the stream open and decodes every frame, keeping only
the latest one: nothing queues up, so ``grab()`` always encodes what the camera shows
now. When the stream drops or cannot be opened, the reader reconnects by itself after a
pause that doubles from ``RECONNECT_FIRST`` up to ``RECONNECT_MAX`` seconds and starts
again from the first once frames flow.

``grab()`` returns the latest frame when it is no older than ``max_age``; otherwise it
waits up to the source's timeout for one, and raises ``SourceError`` as soon as the
reader meets a failure (refused, unauthorized, timed out, stream ended, ...) with that
reason, or when the time is up.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from urllib.parse import quote, urlsplit, urlunsplit

import av
import av.error

from .base import Source, SourceError, SourceSettings, encode_jpeg

logger = logging.getLogger(__name__)

RECONNECT_FIRST = 0.5
RECONNECT_MAX = 30.0
DEFAULT_MAX_AGE = 2.0


def with_credentials(url: str, username: str, password: str) -> str:
    """``url`` with the user name and password in it, unless it already has some."""
    parts = urlsplit(url)
    if not username or parts.username:
        return url
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RtspSource(Source):
    """An RTSP camera read in the background. ``max_age``: how old the latest frame may
    be for ``grab`` to return it."""

    kind = "rtsp"

    def __init__(
        self,
        settings: SourceSettings,
        max_age: float = DEFAULT_MAX_AGE,
        reconnect_first: float = RECONNECT_FIRST,
        reconnect_max: float = RECONNECT_MAX,
    ):
        parts = urlsplit(settings.url)
        if parts.scheme.lower() not in ("rtsp", "rtsps") or not parts.hostname:
            raise SourceError(f"not an RTSP URL: {_without_password(settings.url)!r}")
        self.settings = settings
        self.max_age = max_age
        self.reconnect_first = reconnect_first
        self.reconnect_max = reconnect_max
        self._url = with_credentials(settings.url, settings.username, settings.password)
        self._host = parts.hostname
        self._where = f"{parts.hostname}:{parts.port or 554}"
        self._condition = threading.Condition()
        self._latest: av.VideoFrame | None = None
        self._latest_at = 0.0
        self._error: str | None = None
        self._stop = threading.Event()
        self.connects = 0  # successful opens, for watching reconnection
        self._thread = threading.Thread(
            target=self._read_forever, name=f"rtsp-reader {self._where}", daemon=True
        )
        self._thread.start()

    # ------------------------------------------------------------ the reader

    def _read_forever(self) -> None:
        delay = self.reconnect_first
        while not self._stop.is_set():
            had_frames = self._read_once()
            if had_frames:
                delay = self.reconnect_first
            if self._stop.wait(delay):
                break
            if not had_frames:
                delay = min(delay * 2, self.reconnect_max)

    def _read_once(self) -> bool:
        """Open the stream and decode until it ends or fails; whether frames came."""
        had_frames = False
        timeout = self.settings.timeout
        try:
            container = av.open(
                self._url,
                options={
                    "rtsp_transport": "tcp",
                    "timeout": str(int(timeout * 1_000_000)),  # socket I/O, microseconds
                    "fflags": "nobuffer",
                    "flags": "low_delay",
                    "analyzeduration": "1000000",  # microseconds of probing before the first frame
                    "probesize": "65536",
                },
                timeout=(timeout, timeout),
            )
        except Exception as error:
            self._fail(self._describe(error))
            return False
        try:
            if not container.streams.video:
                self._fail(f"the stream at {self._where} has no video")
                return False
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            self.connects += 1
            for frame in container.decode(stream):
                if self._stop.is_set():
                    return had_frames
                with self._condition:
                    self._latest, self._latest_at = frame, time.monotonic()
                    self._error = None
                    self._condition.notify_all()
                had_frames = True
            self._fail(f"the stream from {self._where} ended")
        except Exception as error:
            self._fail(self._describe(error))
        finally:
            container.close()
        return had_frames

    def _fail(self, reason: str) -> None:
        if not self._stop.is_set():
            logger.info("rtsp %s: %s", self._where, reason)
        with self._condition:
            self._error = reason
            self._condition.notify_all()

    def _describe(self, error: BaseException) -> str:
        where = self._where
        if isinstance(error, av.error.HTTPUnauthorizedError):
            if self.settings.username or urlsplit(self.settings.url).username:
                return "RTSP 401 Unauthorized: the camera refused the user name or password"
            return "RTSP 401 Unauthorized: the camera needs a user name and password"
        if isinstance(error, av.error.HTTPForbiddenError):
            return "RTSP 403 Forbidden: the camera refused this user"
        if isinstance(error, av.error.HTTPNotFoundError):
            return f"RTSP 404 Not Found: no stream at this path on {where}"
        if isinstance(error, ConnectionRefusedError):
            return f"connection refused by {where} (nothing listening on that port?)"
        if isinstance(error, (av.error.ExitError, TimeoutError)):
            return f"no answer from {where} within {self.settings.timeout:g} s"
        if isinstance(error, ConnectionResetError):
            return f"{where} closed the connection"
        if isinstance(error, av.error.EOFError):
            return f"the stream from {where} ended"
        if isinstance(error, av.error.InvalidDataError):
            return f"invalid data from {where} (is it an RTSP camera?): {error}"
        try:
            socket.getaddrinfo(self._host, None)
        except OSError:
            return f"cannot resolve host name {self._host!r} (DNS)"
        return f"cannot read the stream from {where}: {error}"

    # ------------------------------------------------------------ the camera

    def grab(self) -> bytes:
        deadline = time.monotonic() + self.settings.timeout
        with self._condition:
            while True:
                now = time.monotonic()
                if self._latest is not None and now - self._latest_at <= self.max_age:
                    frame = self._latest
                    break
                if self._error is not None:
                    raise SourceError(self._error)
                if now >= deadline:
                    raise SourceError(
                        f"no frame from {self._where} within {self.settings.timeout:g} s"
                    )
                if self._stop.is_set():
                    raise SourceError("the source is closed")
                self._condition.wait(deadline - now)
        return encode_jpeg(frame.to_image())

    @property
    def last_error(self) -> str | None:
        with self._condition:
            return self._error

    def close(self) -> None:
        self._stop.set()
        with self._condition:
            self._condition.notify_all()
        self._thread.join(timeout=1.0)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
