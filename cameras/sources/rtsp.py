"""RTSP streams, read with PyAV (FFmpeg) over TCP, decoding only the frames handed over.

A background reader thread keeps the stream open and only demuxes: it keeps the packets
of the current group of pictures (the latest keyframe and what followed it) and drops
the previous group when a new keyframe arrives. Nothing queues up, and nothing is
decoded until ``grab()`` asks for a frame:

- when the latest keyframe is recent enough (no older than the sampling interval, plus
  ``KEYFRAME_SLACK``, nor than the stream's keyframe interval) and was not handed over
  yet, only that keyframe is decoded, with the decoder told to skip every non-key
  frame (``skip_frame = "NONKEY"``). A stream
  whose keyframe interval fits the camera's sampling interval is never decoded beyond
  its keyframes; when the next keyframe is due within ``KEYFRAME_WAIT`` of the sampling
  interval, ``grab()`` waits for it rather than decode anything else;
- otherwise (a keyframe interval longer than the sampling interval) the packets from
  the keyframe up to the newest one are decoded, continuing from where the previous
  grab of the same group stopped, skipping the frames no other frame refers to
  (``skip_frame = "NONREF"``) on the way. The rest of each group (after the last
  frame due in it) is never decoded.

``grab()`` records ``frame_age``: seconds between the arrival of the handed frame's
packet and the hand-over. ``packets`` and ``decoded`` count the packets read and those
given to the decoder.

When the stream drops or cannot be opened, the reader reconnects by itself after a
pause that doubles from ``RECONNECT_FIRST`` up to ``RECONNECT_MAX`` seconds and starts
again from the first once frames flow. ``grab()`` raises ``SourceError`` as soon as
the reader meets a failure (refused, unauthorized, timed out, stream ended, ...) with
that reason, or when no frame came within the source's timeout.
"""

from __future__ import annotations

import itertools
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
# A keyframe up to this much older than the sampling interval is still handed over, so a
# keyframe interval slightly longer than the sampling interval keeps to keyframes.
KEYFRAME_SLACK = 0.25  # a share of the sampling interval
# How long grab() waits for an expected keyframe instead of decoding the frames before it.
KEYFRAME_WAIT = 0.5  # a share of the sampling interval
# ... and how late that keyframe may be before the frames before it are decoded instead.
KEYFRAME_LATE = 0.25  # a share of the sampling interval
# A group of pictures longer than this many packets (a stream that never sends a
# keyframe) is dropped, and decoding waits for the next keyframe.
MAX_GROUP_PACKETS = 3000


_group_numbers = itertools.count()


class _Group:
    """The packets since a keyframe, with their arrival times, and how many of them the
    decoder has taken. ``decoder`` is the one of the connection they came from."""

    def __init__(self, decoder: av.CodecContext, keyframe: av.Packet, at: float):
        self.number = next(_group_numbers)
        self.decoder = decoder
        self.packets = [keyframe]
        self.arrivals = [at]
        self.fed = 0
        self.frame: av.VideoFrame | None = None  # the last frame decoded from this group
        self.frame_index = -1  # which packet it came from


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
    """An RTSP camera read in the background, sampled every ``settings.interval``
    seconds."""

    kind = "rtsp"

    def __init__(
        self,
        settings: SourceSettings,
        reconnect_first: float = RECONNECT_FIRST,
        reconnect_max: float = RECONNECT_MAX,
    ):
        parts = urlsplit(settings.url)
        if parts.scheme.lower() not in ("rtsp", "rtsps") or not parts.hostname:
            raise SourceError(f"not an RTSP URL: {_without_password(settings.url)!r}")
        self.settings = settings
        self.interval = settings.interval
        self.reconnect_first = reconnect_first
        self.reconnect_max = reconnect_max
        self._url = with_credentials(settings.url, settings.username, settings.password)
        self._host = parts.hostname
        self._where = f"{parts.hostname}:{parts.port or 554}"
        self._condition = threading.Condition()
        self._group: _Group | None = None
        self._keyframe_interval: float | None = None  # seconds, as the stream's clock says
        self._last_keyframe_pts: float | None = None
        self._handed: tuple[int, int] | None = None  # (id of the group, packet index)
        self._error: str | None = None
        self._decode_lock = threading.Lock()
        self._stop = threading.Event()
        self.connects = 0  # successful opens, for watching reconnection
        self.packets = 0  # video packets read
        self.decoded = 0  # packets decoded
        self.frame_age: float | None = None  # of the frame the last grab handed over
        self._thread = threading.Thread(
            target=self._read_forever, name=f"rtsp-reader {self._where}", daemon=True
        )
        self._thread.start()

    def set_interval(self, seconds: float) -> None:
        self.interval = seconds

    @property
    def keyframe_interval(self) -> float | None:
        """The stream's keyframe interval in seconds, once two keyframes came."""
        return self._keyframe_interval

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
        """Open the stream and keep its latest group of pictures until it ends or fails;
        whether a keyframe came."""
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
            decoder = av.CodecContext.create(stream.codec_context.name, "r")
            if stream.codec_context.extradata:
                decoder.extradata = stream.codec_context.extradata
            # One thread: frame threading would hold a lone keyframe back until more
            # frames come, and one thread costs the least CPU per frame.
            decoder.thread_type = "SLICE"
            decoder.thread_count = 1
            self.connects += 1
            self._last_keyframe_pts = None
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return had_frames
                if not packet.size:
                    continue
                self._keep(packet, decoder, stream.time_base)
                had_frames = had_frames or self._group is not None
            self._fail(f"the stream from {self._where} ended")
        except Exception as error:
            self._fail(self._describe(error))
        finally:
            container.close()
        return had_frames

    def _keep(self, packet: av.Packet, decoder: av.CodecContext, time_base) -> None:
        now = time.monotonic()
        with self._condition:
            self.packets += 1
            if packet.is_keyframe:
                if packet.pts is not None and time_base is not None:
                    pts = float(packet.pts * time_base)
                    if self._last_keyframe_pts is not None and pts > self._last_keyframe_pts:
                        self._keyframe_interval = pts - self._last_keyframe_pts
                    self._last_keyframe_pts = pts
                self._group = _Group(decoder, packet, now)
            elif self._group is not None and self._group.decoder is decoder:
                if len(self._group.packets) >= MAX_GROUP_PACKETS:
                    self._group = None
                else:
                    self._group.packets.append(packet)
                    self._group.arrivals.append(now)
            else:
                return  # no keyframe yet on this connection: nothing can be decoded
            self._error = None
            self._condition.notify_all()

    def _fail(self, reason: str) -> None:
        if not self._stop.is_set():
            logger.info("rtsp %s: %s", self._where, reason)
        with self._condition:
            self._error = reason
            self._group = None
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
        while True:
            with self._condition:
                group, target = self._choose(deadline)
                upto = len(group.packets)
            frame, index = self._decode(group, target, upto)
            if frame is not None:
                break
            # Nothing came out (a packet the decoder could not use): try the next ones.
            with self._condition:
                if time.monotonic() >= deadline:
                    raise SourceError(
                        f"no frame from {self._where} within {self.settings.timeout:g} s"
                    )
                self._condition.wait(0.05)
        with self._condition:
            self._handed = (group.number, index)
        self.frame_age = max(0.0, time.monotonic() - group.arrivals[index])
        return encode_jpeg(frame.to_image())

    def _choose(self, deadline: float) -> tuple[_Group, int]:
        """Under the lock: the group and the packet index to decode up to, once there is
        something to hand over."""
        while True:
            now = time.monotonic()
            if self._error is not None:
                raise SourceError(self._error)
            if self._stop.is_set():
                raise SourceError("the source is closed")
            group = self._group
            if group is not None:
                interval = max(self.interval, 0.05)
                handed = self._handed[1] if self._handed and self._handed[0] == group.number else -1
                # Never older than one keyframe interval: a keyframe older than that
                # has a successor due any moment.
                limit = interval * (1 + KEYFRAME_SLACK)
                if self._keyframe_interval is not None:
                    limit = min(limit, self._keyframe_interval)
                if handed < 0 and now - group.arrivals[0] <= limit:
                    return group, 0
                wait = self._wait_for_keyframe(group, interval, now)
                newest = len(group.packets) - 1
                if wait <= 0 and newest > handed:
                    return group, newest
            else:
                wait = deadline - now
            if now >= deadline:
                raise SourceError(f"no frame from {self._where} within {self.settings.timeout:g} s")
            self._condition.wait(max(0.01, min(wait if wait > 0 else 0.05, deadline - now)))

    def _wait_for_keyframe(self, group: _Group, interval: float, now: float) -> float:
        """Seconds to wait for the next keyframe when it is due soon, else 0."""
        keyframes = self._keyframe_interval
        if keyframes is None:  # one keyframe so far: the next may well be due now
            keyframes = interval
        if keyframes > interval * (1 + KEYFRAME_SLACK):
            return 0.0
        expected = group.arrivals[0] + keyframes
        left = expected - now
        if left > interval * KEYFRAME_WAIT:
            return 0.0
        return max(0.0, left + KEYFRAME_LATE * interval)

    def _decode(self, group: _Group, target: int, upto: int) -> tuple[av.VideoFrame | None, int]:
        """Feed the group's packets up to ``target`` to its decoder (from where it
        stopped); the last frame that came out and the packet it is of."""
        with self._decode_lock:
            if target < group.fed:
                return group.frame, group.frame_index
            decoder = group.decoder
            for index in range(group.fed, min(target + 1, upto)):
                # Only keyframes unless frames after one are wanted; on the way to the
                # wanted frame, frames nothing refers to (B-frames, a camera's
                # temporal layers) are skipped too.
                if target == 0:
                    decoder.skip_frame = "NONKEY"
                else:
                    decoder.skip_frame = "DEFAULT" if index == target else "NONREF"
                try:
                    frames = decoder.decode(group.packets[index])
                except av.error.FFmpegError as error:
                    logger.debug("rtsp %s: undecodable packet: %s", self._where, error)
                    frames = []
                group.fed = index + 1
                self.decoded += 1
                if frames:
                    group.frame, group.frame_index = frames[-1], index
            if group.frame_index < 0:
                return None, -1
            return group.frame, group.frame_index

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
