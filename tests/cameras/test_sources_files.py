"""File sources: a short video written with PyAV in the test, played in real time and
looped past its end (on a clock the test moves), and image folders looped in name order."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from cameras.sources import SourceError, open_source
from cameras.sources.files import ImageFolderSource, VideoFileSource

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _tmp_path_is_a_file_root(tmp_path, settings):
    settings.CAMERA_FILE_ROOTS = [tmp_path]


FPS = 10
FRAMES = 10  # one second of video; frame i is flat grey of level LEVEL_STEP * i
LEVEL_STEP = 24


def level_of(jpeg: bytes) -> float:
    return float(np.asarray(Image.open(io.BytesIO(jpeg)).convert("L")).mean())


def frame_index(jpeg: bytes) -> int:
    return round(level_of(jpeg) / LEVEL_STEP)


@pytest.fixture
def video(tmp_path) -> Path:
    path = tmp_path / "yard.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for index in range(FRAMES):
            pixels = np.full((120, 160, 3), index * LEVEL_STEP, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def write_image(path: Path, level: int, image_format: str = "JPEG") -> Path:
    Image.new("RGB", (64, 48), (level, level, level)).save(path, format=image_format)
    return path


def test_a_video_plays_in_real_time_from_when_it_was_opened(video):
    clock = Clock()
    with VideoFileSource(video, clock=clock) as source:
        seen = []
        for seconds in (0.0, 0.32, 0.55, 0.95):
            clock.now = 100.0 + seconds
            seen.append(frame_index(source.grab()))

    assert seen == [0, 3, 5, 9]


def test_a_video_loops_past_its_end_and_learns_its_length(video):
    clock = Clock()
    with VideoFileSource(video, clock=clock) as source:
        seen = []
        for seconds in (0.5, 1.05, 1.72, 2.41, 7.35):
            clock.now = 100.0 + seconds
            seen.append(frame_index(source.grab()))

        assert source.length == pytest.approx(1.0)
    assert seen == [5, 0, 7, 4, 3]


def test_grabbing_slower_than_the_frame_rate_skips_frames_instead_of_queueing_them(video):
    clock = Clock()
    with VideoFileSource(video, clock=clock) as source:
        source.grab()
        clock.now += 0.62
        assert frame_index(source.grab()) == 6


def test_a_video_file_is_opened_from_a_camera_setting_and_gives_jpegs(video):
    with open_source({"source_kind": "file", "source_url": str(video)}) as source:
        frame = source.grab()

    image = Image.open(io.BytesIO(frame))
    assert (image.format, image.size) == ("JPEG", (160, 120))


def test_a_file_url_is_understood_too(video):
    with open_source({"source_kind": "file", "source_url": f"file://{video}"}) as source:
        assert source.grab()


def test_a_missing_file_is_reported_by_its_path(tmp_path):
    missing = tmp_path / "nowhere.mp4"
    with pytest.raises(SourceError, match=f"file not found: {missing}"):
        open_source({"source_kind": "file", "source_url": str(missing)})


def test_a_file_that_is_no_video_is_reported(tmp_path):
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(b"these are not the frames you are looking for" * 20)
    with pytest.raises(SourceError, match="cannot read video file"):
        open_source({"source_kind": "file", "source_url": str(junk)})


def test_an_image_folder_is_played_in_name_order_and_looped(tmp_path):
    write_image(tmp_path / "b.jpg", 100)
    write_image(tmp_path / "a.png", 50, "PNG")
    write_image(tmp_path / "c.jpeg", 150)
    (tmp_path / "readme.txt").write_text("not a picture")

    with open_source({"source_kind": "file", "source_url": str(tmp_path)}) as source:
        levels = [round(level_of(source.grab()) / 50) for _ in range(7)]

    assert levels == [1, 2, 3, 1, 2, 3, 1]


def test_every_image_of_a_folder_comes_out_as_jpeg(tmp_path):
    write_image(tmp_path / "only.png", 80, "PNG")
    with open_source({"source_kind": "file", "source_url": str(tmp_path)}) as source:
        assert Image.open(io.BytesIO(source.grab())).format == "JPEG"


def test_a_folder_picks_up_new_images_on_its_next_round(tmp_path):
    write_image(tmp_path / "1.jpg", 50)
    source = ImageFolderSource(tmp_path)
    source.grab()
    write_image(tmp_path / "2.jpg", 150)

    levels = [round(level_of(source.grab()) / 50) for _ in range(3)]

    assert levels == [1, 3, 1]


def test_a_single_image_file_is_a_camera_showing_that_image(tmp_path):
    image = write_image(tmp_path / "still.jpg", 200)
    with open_source({"source_kind": "file", "source_url": str(image)}) as source:
        assert source.grab() == image.read_bytes()
        assert source.grab() == image.read_bytes()


def test_an_empty_folder_is_reported(tmp_path):
    with pytest.raises(SourceError, match="no images in"):
        open_source({"source_kind": "file", "source_url": str(tmp_path)})


def test_a_corrupt_image_in_a_folder_is_reported_by_its_name(tmp_path):
    good = write_image(tmp_path / "a.jpg", 90)
    (tmp_path / "b.jpg").write_bytes(good.read_bytes()[:200])

    with open_source({"source_kind": "file", "source_url": str(tmp_path)}) as source:
        source.grab()
        with pytest.raises(SourceError, match=r"b\.jpg is a corrupt image"):
            source.grab()
