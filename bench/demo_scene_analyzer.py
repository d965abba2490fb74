"""Measure the local analyzer's ``persons`` on frames of the demo scenes against the
scenes' own ground truth.

For each scene, N frames spread over ten minutes of scene time are rendered, encoded
as JPEG (as the capture service stores them) and analysed; detections are matched to
the ground truth's person boxes greedily by IoU. Reported per scene and overall:
precision and recall at IoU >= 0.5 and >= 0.3, recall of upright persons only (a
fallen worker lies on the ground, which an upright-people detector is not built for),
and analysed frames per second (analysis only, rendering excluded) with the CPU time
per frame (all threads of the process), which a busy machine does not distort.

The old detector (OpenCV HOG + face cascade) and the new one (MoveNet MultiPose at
input sides 256 and 384) run side by side on the same frames.

Usage: .venv/bin/python bench/demo_scene_analyzer.py [N_FRAMES_PER_SCENE] [--write DIR]
``--write DIR`` also writes each frame and its ground truth (JSON) into DIR.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring.settings")

from cameras.sources.demo import SCENES, GroundTruth
from monitoring.backends.base import Box
from monitoring.backends.local import LocalAnalyzer, PersonDetector
from monitoring.backends.onbox import models
from monitoring.backends.onbox.detector import MoveNetDetector

SCENE_SECONDS = 600.0
THRESHOLDS = (0.5, 0.3)


def iou(a: Box, b: Box) -> float:
    width = min(a.right, b.right) - max(a.left, b.left)
    height = min(a.bottom, b.bottom) - max(a.top, b.top)
    inter = max(0.0, width) * max(0.0, height)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union else 0.0


def greedy_matches(truths: list[Box], found: list[Box], threshold: float) -> set[int]:
    """Indices of the truths matched, each detection used at most once."""
    pairs = sorted(
        ((iou(truth, box), i, j) for i, truth in enumerate(truths) for j, box in enumerate(found)),
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
    return used_truths


class Tally:
    def __init__(self) -> None:
        self.truths = 0
        self.upright = 0
        self.found = 0
        self.frames = 0
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.matched = dict.fromkeys(THRESHOLDS, 0)
        self.matched_upright = dict.fromkeys(THRESHOLDS, 0)

    def add(self, truth: GroundTruth, found: list[Box], seconds: float, cpu: float) -> None:
        boxes = [Box(*person.box) for person in truth.persons]
        self.truths += len(boxes)
        self.upright += sum(1 for person in truth.persons if not person.fallen)
        self.found += len(found)
        self.frames += 1
        self.seconds += seconds
        self.cpu_seconds += cpu
        for threshold in THRESHOLDS:
            hits = greedy_matches(boxes, found, threshold)
            self.matched[threshold] += len(hits)
            self.matched_upright[threshold] += sum(1 for i in hits if not truth.persons[i].fallen)

    def merge(self, other: Tally) -> None:
        self.truths += other.truths
        self.upright += other.upright
        self.found += other.found
        self.frames += other.frames
        self.seconds += other.seconds
        self.cpu_seconds += other.cpu_seconds
        for threshold in THRESHOLDS:
            self.matched[threshold] += other.matched[threshold]
            self.matched_upright[threshold] += other.matched_upright[threshold]

    def lines(self, name: str) -> list[str]:
        out = [
            f"{name}: {self.frames} frames, {self.truths} persons "
            f"({self.upright} upright), {self.found} detections, "
            f"{self.frames / self.seconds:.2f} frames/s "
            f"({self.cpu_seconds / self.frames:.3f} CPU s per frame)"
        ]
        for threshold in THRESHOLDS:
            matched = self.matched[threshold]
            precision = matched / self.found if self.found else 0.0
            recall = matched / self.truths if self.truths else 0.0
            upright = self.matched_upright[threshold] / self.upright if self.upright else 0.0
            out.append(
                f"  IoU >= {threshold}: precision {precision:.3f}  recall {recall:.3f}  "
                f"recall of upright persons {upright:.3f}"
            )
        return out


def detectors() -> dict[str, LocalAnalyzer]:
    found = {"old: OpenCV HOG + face": LocalAnalyzer(PersonDetector())}
    path = models.movenet_path()
    if path is None:
        print("MoveNet not installed: python -m monitoring.backends.onbox.models")
        return found
    for side in (256, 384):
        found[f"new: MoveNet side {side}"] = LocalAnalyzer(MoveNetDetector(path, side=side))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("frames", nargs="?", type=int, default=60, help="Frames per scene.")
    parser.add_argument("--write", type=Path, help="Also write frames and ground truth here.")
    args = parser.parse_args()
    frames = []
    for scene in SCENES.values():
        for index in range(args.frames):
            t = 1.0 + index * SCENE_SECONDS / args.frames
            if args.write:
                scene.write_sample(t, args.write)
            frames.append((scene.name, scene.jpeg(t), scene.ground_truth(t)))
    for label, analyzer in detectors().items():
        print(f"== {label}")
        analyzer.analyze("persons", [frames[0][1]])  # load the models once
        total = Tally()
        for name in SCENES:
            tally = Tally()
            for scene_name, data, truth in frames:
                if scene_name != name:
                    continue
                started, started_cpu = time.perf_counter(), time.process_time()
                result = analyzer.analyze("persons", [data])
                seconds = time.perf_counter() - started
                cpu = time.process_time() - started_cpu
                tally.add(truth, [person.box for person in result.persons], seconds, cpu)
            print("\n".join(tally.lines(name)))
            total.merge(tally)
        print("\n".join(total.lines("all scenes")))


if __name__ == "__main__":
    main()
