"""Could the on-box detector tell helmets from bare heads? A measurement, not a feature.

For each person MoveNet finds on the 40 ppe-sample photos, the head is placed from the
keypoints (centre: the mean of the nose, eyes and ears seen; size: the ear-to-ear or
eye-to-eye distance, else a third of the shoulder width), and the crown above the eyes
is classified by colour, with thresholds fixed before looking at the results: a helmet
when more of the crown is helmet-coloured (saturated: S > 0.45 and V > 0.35, or white:
S < 0.2 and V > 0.75) than hair-coloured (V < 0.3), and the helmet share is at least 0.3.

Heads are matched to the labels (class 0 helmet, 1 bare head) by the head point lying in
a label box; precision counts every head classified, matched or not, recall every label.

Usage: .venv/bin/python bench/onbox_helmet.py [PATH_TO_PPE_SAMPLE]
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.local_analyzer_ppe import DEFAULT_DATA, read_labels
from monitoring.backends.onbox import models
from monitoring.backends.onbox.detector import KEYPOINT_MIN_SCORE, MoveNetDetector

HEAD_POINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")


def head(detection) -> tuple[float, float, float] | None:
    """Head centre (x, y) and size in pixels, from the keypoints seen."""
    seen = {p.name: p for p in detection.keypoints if p.score >= KEYPOINT_MIN_SCORE}
    points = [seen[name] for name in HEAD_POINTS if name in seen]
    if not points:
        return None
    x = sum(p.x for p in points) / len(points)
    y = sum(p.y for p in points) / len(points)
    size = 0.0
    for a, b, factor in (
        ("left_ear", "right_ear", 1.3),
        ("left_eye", "right_eye", 3.0),
        ("left_shoulder", "right_shoulder", 0.45),
    ):
        if a in seen and b in seen:
            size = factor * float(np.hypot(seen[a].x - seen[b].x, seen[a].y - seen[b].y))
            if size > 4:
                break
    if size <= 4:
        size = detection.box.width / 3
    return x, y, size


def crown_is_helmet(rgb: np.ndarray, x: float, y: float, size: float) -> bool:
    height, width = rgb.shape[:2]
    left, right = int(max(0, x - size / 2)), int(min(width, x + size / 2))
    top, bottom = int(max(0, y - size * 0.9)), int(min(height, y - size * 0.15))
    if right - left < 2 or bottom - top < 2:
        return False
    hsv = cv2.cvtColor(rgb[top:bottom, left:right], cv2.COLOR_RGB2HSV).reshape(-1, 3) / 255.0
    s, v = hsv[:, 1], hsv[:, 2]
    helmet = ((s > 0.45) & (v > 0.35)) | ((s < 0.2) & (v > 0.75))
    hair = v < 0.3
    return helmet.mean() >= 0.3 and helmet.mean() > hair.mean()


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
    path = models.movenet_path()
    if path is None:
        sys.exit("MoveNet not installed: python -m monitoring.backends.onbox.models")
    detector = MoveNetDetector(path)
    said = {0: 0, 1: 0}  # heads classified as helmet (0) / bare (1)
    right = {0: 0, 1: 0}
    labels_of = {0: 0, 1: 0}
    unplaced = 0
    for image in sorted((data / "images").glob("*.jpg")):
        rgb = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
        height, width = rgb.shape[:2]
        labels = [
            (label, box)
            for label, box in read_labels(data / "labels" / f"{image.stem}.txt", width, height)
            if label in (0, 1)
        ]
        for label, _box in labels:
            labels_of[label] += 1
        used: set[int] = set()
        for detection in detector.detect(rgb):
            placed = head(detection)
            if placed is None:
                unplaced += 1
                continue
            x, y, size = placed
            guess = 0 if crown_is_helmet(rgb, x, y, size) else 1
            said[guess] += 1
            for index, (label, box) in enumerate(labels):
                if index in used:
                    continue
                if box.left <= x <= box.right and box.top - size / 2 <= y <= box.bottom + size:
                    used.add(index)
                    right[guess] += int(guess == label)
                    break
    print(f"persons without a visible head: {unplaced}")
    for label, name in ((0, "helmet"), (1, "bare head")):
        precision = right[label] / said[label] if said[label] else 0.0
        recall = right[label] / labels_of[label] if labels_of[label] else 0.0
        print(
            f"{name:>9}: labelled {labels_of[label]}, classified {said[label]}, "
            f"right {right[label]}: precision {precision:.2f} recall {recall:.2f}"
        )


if __name__ == "__main__":
    main()
