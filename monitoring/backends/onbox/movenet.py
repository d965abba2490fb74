"""Runs MoveNet MultiPose Lightning (converted to ONNX by ``tfjs_onnx``) with ONNX Runtime
on the CPU: up to six people a frame, each with a box, a score and 17 COCO keypoints.

The frame is scaled (aspect kept) so its longest side is ``side`` pixels (256, the size
MoveNet was trained at, by default) and padded at the right and bottom to multiples of 32;
the model's outputs, normalized to that input, are mapped back to pixels of the frame.
Output rows (``[1, 6, 56]``): 17 x (y, x, score), then ymin, xmin, ymax, xmax, score.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

INPUT_SIDE = 256
STRIDE = 32
KEYPOINTS = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)


@dataclass(frozen=True)
class Pose:
    """One person: box (left, top, right, bottom) and keypoints (x, y, score) in pixels
    of the frame given."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray  # 17 x 3: x, y, score

    def point(self, name: str) -> tuple[float, float, float]:
        x, y, score = self.keypoints[KEYPOINTS.index(name)]
        return float(x), float(y), float(score)


def letterbox(rgb: np.ndarray, side: int = INPUT_SIDE) -> tuple[np.ndarray, float]:
    """The frame scaled so its longest side is ``side``, padded with zeros at the right
    and bottom to multiples of 32 (the network's stride), as the model's int32 NHWC
    input; and the scale applied."""
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((-(-new_h // STRIDE) * STRIDE, -(-new_w // STRIDE) * STRIDE, 3), np.uint8)
    canvas[:new_h, :new_w] = resized
    return canvas[None].astype(np.int32), scale


class MoveNet:
    """One ONNX Runtime session per process (thread-safe ``run``); ``threads`` bounds its
    intra-op pool so an analysis leaves the rest of the machine free."""

    def __init__(self, model_path: Path, threads: int = 1):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self._lock = threading.Lock()

    def raw(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            return self.session.run(None, {self.input_name: batch})[0]

    def poses(self, rgb: np.ndarray, min_score: float = 0.2, side: int = INPUT_SIDE) -> list[Pose]:
        batch, scale = letterbox(rgb, side)
        rows = self.raw(batch)[0]
        height, width = rgb.shape[:2]
        in_h, in_w = batch.shape[1:3]
        found = []
        for row in rows:
            score = float(row[55])
            if score < min_score:
                continue
            points = row[:51].reshape(17, 3)
            xs = np.clip(points[:, 1] * in_w / scale, 0, width)
            ys = np.clip(points[:, 0] * in_h / scale, 0, height)
            ymin, xmax = float(row[51]) * in_h / scale, float(row[54]) * in_w / scale
            xmin, ymax = float(row[52]) * in_w / scale, float(row[53]) * in_h / scale
            box = (
                max(0.0, xmin),
                max(0.0, ymin),
                min(float(width), xmax),
                min(float(height), ymax),
            )
            found.append(Pose(box, score, np.stack([xs, ys, points[:, 2]], axis=1)))
        return found
