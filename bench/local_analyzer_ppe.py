"""Measure the local analyzer's ``persons`` on the labelled ppe-sample photos.

Ground truth: YOLO labels of classes 2 (no_wear) and 3 (wear). In this data set those
boxes frame the clothed body (mostly the torso), not head to feet, so besides the IoU
matches a "covers" match is reported: a label counts as found when at least 60 % of its
area lies inside a detection no more than 5 times its size.

The old detector (OpenCV HOG + face cascade) and the new one (MoveNet MultiPose, ONNX,
at input sides 256 and 384) run side by side on the same photos. For MoveNet a third
box is scored too: the torso box its shoulder and hip keypoints span (the labels box
torsos), widened by 15 % each side.

Usage: .venv/bin/python bench/local_analyzer_ppe.py [PATH_TO_PPE_SAMPLE]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitoring.backends.base import Box, Person
from monitoring.backends.local import LocalAnalyzer, PersonDetector
from monitoring.backends.onbox import models
from monitoring.backends.onbox.detector import KEYPOINT_MIN_SCORE, MoveNetDetector

DEFAULT_DATA = next(
    (
        root / "shared" / "data" / "ppe-sample"
        for root in Path(__file__).resolve().parents
        if (root / "shared" / "data" / "ppe-sample").is_dir()
    ),
    Path("../shared/data/ppe-sample"),
)
PERSON_CLASSES = {2, 3}


def read_labels(path: Path, width: int, height: int) -> list[tuple[int, Box]]:
    """YOLO boxes (``c x y w h``) or polygons (``c x1 y1 x2 y2 ...``) in pixels."""
    found = []
    for line in path.read_text().splitlines():
        values = line.split()
        if not values:
            continue
        label, numbers = int(values[0]), [float(value) for value in values[1:]]
        if len(numbers) == 4:
            x, y, w, h = numbers
            left, top, right, bottom = x - w / 2, y - h / 2, x + w / 2, y + h / 2
        else:
            xs, ys = numbers[0::2], numbers[1::2]
            left, top, right, bottom = min(xs), min(ys), max(xs), max(ys)
        found.append(
            (label, Box.from_corners(left * width, top * height, right * width, bottom * height))
        )
    return found


def intersection(a: Box, b: Box) -> float:
    width = min(a.right, b.right) - max(a.left, b.left)
    height = min(a.bottom, b.bottom) - max(a.top, b.top)
    return max(0.0, width) * max(0.0, height)


def iou(truth: Box, found: Box) -> float:
    inter = intersection(truth, found)
    union = truth.width * truth.height + found.width * found.height - inter
    return inter / union if union else 0.0


def covers(truth: Box, found: Box) -> float:
    area = truth.width * truth.height
    if not area or found.width * found.height > 5 * area:
        return 0.0
    return intersection(truth, found) / area


def greedy_matches(
    truths: list[Box], found: list[Box], measure: Callable[[Box, Box], float], threshold: float
) -> int:
    pairs = sorted(
        (
            (measure(truth, box), i, j)
            for i, truth in enumerate(truths)
            for j, box in enumerate(found)
        ),
        reverse=True,
    )
    used_truths: set[int] = set()
    used_found: set[int] = set()
    for value, i, j in pairs:
        if value < threshold:
            break
        if i in used_truths or j in used_found:
            continue
        used_truths.add(i)
        used_found.add(j)
    return len(used_truths)


def torso(person: Person) -> Box | None:
    """The box of the shoulders and hips seen, 15 % wider each side; None without two
    points."""
    names = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
    points = [p for p in person.keypoints if p.name in names and p.score >= KEYPOINT_MIN_SCORE]
    if len(points) < 2:
        return None
    left, right = min(p.x for p in points), max(p.x for p in points)
    top, bottom = min(p.y for p in points), max(p.y for p in points)
    pad = 0.15 * max(right - left, 1.0)
    return Box.from_corners(left - pad, top, right + pad, bottom)


def measure(name: str, analyzer: LocalAnalyzer, images: list[Path], data: Path, boxes) -> None:
    analyzer.analyze("persons", [images[0].read_bytes()])  # load the models outside timing
    criteria = {
        "IoU >= 0.5": (iou, 0.5),
        "IoU >= 0.3": (iou, 0.3),
        "covers >= 0.6": (covers, 0.6),
    }
    matched = dict.fromkeys(criteria, 0)
    truth_total = found_total = 0
    times, cpu_times = [], []
    for path in images:
        data_bytes = path.read_bytes()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = analyzer.analyze("persons", [data_bytes])
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
        labels = read_labels(
            data / "labels" / f"{path.stem}.txt", result.frame_width, result.frame_height
        )
        truths = [box for label, box in labels if label in PERSON_CLASSES]
        found = [box for box in (boxes(person) for person in result.persons) if box is not None]
        truth_total += len(truths)
        found_total += len(found)
        for criterion, (how, threshold) in criteria.items():
            matched[criterion] += greedy_matches(truths, found, how, threshold)
    print(f"== {name}: {len(images)} images, {truth_total} labelled persons, {found_total} boxes")
    for criterion, hits in matched.items():
        precision = hits / found_total if found_total else 0.0
        recall = hits / truth_total if truth_total else 0.0
        print(f"{criterion:>14}: precision {precision:.2f}  recall {recall:.2f}  ({hits} matched)")
    print(
        f"   time per image: mean {statistics.mean(times) * 1000:.0f} ms, "
        f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
        f"CPU per image (all threads) mean {statistics.mean(cpu_times) * 1000:.0f} ms"
    )


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
    images = sorted((data / "images").glob("*.jpg"))
    print(f"OpenCV threads: {cv2.getNumThreads()}; ONNX Runtime: 1 intra-op thread")
    measure("old: OpenCV HOG + face", LocalAnalyzer(PersonDetector()), images, data, _box)
    path = models.movenet_path()
    if path is None:
        print("MoveNet not installed: python -m monitoring.backends.onbox.models")
        return
    for side in (256, 384):
        analyzer = LocalAnalyzer(MoveNetDetector(path, side=side))
        measure(f"new: MoveNet side {side}, person box", analyzer, images, data, _box)
        measure(f"new: MoveNet side {side}, torso box", analyzer, images, data, torso)


def _box(person: Person) -> Box:
    return person.box


if __name__ == "__main__":
    main()
