"""A real RTSP camera on loopback for tests and benchmarks: GStreamer's RTSP server, run
by the system Python (which has python3-gi, installed by ``.ci/test-deps.sh``) in a
subprocess. No Django here, so benchmarks import it too.

The stream is H.264 over RTSP at a chosen size, rate and keyframe interval. With the
``grey`` pattern its pictures are flat grey, the grey level telling the wall-clock time
it was made (a ramp that repeats every ``PERIOD`` seconds), so a test can tell how old a
grabbed frame is; any other pattern is GStreamer's ``videotestsrc`` of that name.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
PERIOD = 4.0
WIDTH, HEIGHT = 320, 240
PERIOD = 4.0

SERVER = r"""
import sys, time
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer

port, user, password, period = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
WIDTH, HEIGHT, FPS, KEYINT = (int(value) for value in sys.argv[5:9])
PATTERN = sys.argv[9]  # "grey": the time ramp below; else a videotestsrc pattern
BITRATE = int(sys.argv[10])  # kbit/s
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
caps = f"video/x-raw,width={WIDTH},height={HEIGHT},framerate={FPS}/1"
if PATTERN == "grey":
    head = f"appsrc name=src is-live=true format=time do-timestamp=true caps={caps},format=RGB"
else:
    head = f"videotestsrc is-live=true pattern={PATTERN} ! {caps}"
factory.set_launch(
    f"( {head} ! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast "
    f"key-int-max={KEYINT} bitrate={BITRATE} ! rtph264pay name=pay0 pt=96 )"
)
factory.set_shared(True)
sources = []

def configure(factory, media):
    source = media.get_element().get_child_by_name("src")
    if source is not None:
        sources.append(source)

factory.connect("media-configure", configure)

def push():
    level = 20 + int((time.time() % period) / period * 200)
    data = bytes([level]) * (WIDTH * HEIGHT * 3)
    for source in list(sources):
        if source.emit("push-buffer", Gst.Buffer.new_wrapped(data)) != Gst.FlowReturn.OK:
            sources.remove(source)
    return True

if PATTERN == "grey":
    GLib.timeout_add(1000 // FPS, push)
if user:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "user")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    factory.add_role_from_structure(Gst.Structure.new_from_string(
        "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
server.get_mount_points().add_factory("/live", factory)
if server.attach(None) == 0:
    sys.exit("cannot listen on port " + port)
print("READY", flush=True)
GLib.MainLoop().run()
"""


def gst_rtsp_server_available() -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    check = (
        "import gi; gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import GstRtspServer; import shutil; "
        "assert shutil.which('gst-inspect-1.0')"
    )
    try:
        subprocess.run([SYSTEM_PYTHON, "-c", check], check=True, capture_output=True, timeout=30)
        subprocess.run(["gst-inspect-1.0", "x264enc"], check=True, capture_output=True, timeout=30)
    except (subprocess.SubprocessError, OSError):
        return False
    return shutil.which("gst-inspect-1.0") is not None


class RtspServer:
    """The GStreamer RTSP server in a subprocess: ``start()``, ``kill()``, again."""

    def __init__(
        self,
        script: Path,
        port: int,
        user: str = "",
        password: str = "",
        *,
        size: tuple[int, int] = (WIDTH, HEIGHT),
        fps: int = 10,
        keyint: int = 5,
        pattern: str = "grey",
        bitrate: int = 500,
    ):
        self.script, self.port, self.user, self.password = script, port, user, password
        self.stream = [*size, fps, keyint, pattern, bitrate]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/live"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                SYSTEM_PYTHON,
                str(self.script),
                str(self.port),
                self.user,
                self.password,
                str(PERIOD),
                *(str(value) for value in self.stream),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != b"READY":
            error = self.process.stderr.read() if self.process.stderr else b""
            self.kill()
            raise RuntimeError(f"the RTSP server did not start: {line!r} {error[-2000:]!r}")
        assert time.monotonic() < deadline

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def grey_level(jpeg: bytes) -> float:
    import numpy as np
    from PIL import Image

    return float(np.asarray(Image.open(io.BytesIO(jpeg)).convert("L")).mean())


def age_of(level: float, now: float) -> float:
    """How many seconds before ``now`` a grey frame of this level was made."""
    made = (level - 20) / 200 * PERIOD
    return (now % PERIOD - made) % PERIOD
