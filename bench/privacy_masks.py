"""What a privacy mask costs per served frame: finding people with the on-box detector
(MoveNet, as ``monitoring.privacy.person_areas`` does when no analysis answered for the
frame) and masking them (``monitoring.privacy.mask_jpeg``), on the shared site photos.

    python bench/privacy_masks.py [--photos N]

No database: the pure functions only. Prints milliseconds per frame (median, p95).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402

from cameras.models import PrivacyMask  # noqa: E402
from monitoring.backends.images import load_rgb  # noqa: E402
from monitoring.backends.onbox.detector import best_detector  # noqa: E402
from monitoring.privacy import PersonAreas, mask_jpeg  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "data" / "ppe-sample" / "images"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=40)
    args = parser.parse_args()
    photos = sorted(PHOTOS.glob("*.jpg"))[: args.photos]
    detector = best_detector()
    timings: dict[str, list[float]] = {"detect": [], "fill": [], "blur": []}
    people = 0
    for path in photos:
        data = path.read_bytes()
        started = time.perf_counter()
        rgb = np.asarray(load_rgb(data))
        boxes = [(d.box.left, d.box.top, d.box.right, d.box.bottom) for d in detector.detect(rgb)]
        timings["detect"].append((time.perf_counter() - started) * 1000)
        people += len(boxes)
        for mode in (PrivacyMask.FILL, PrivacyMask.BLUR):
            started = time.perf_counter()
            mask_jpeg(data, mode, PersonAreas(boxes=boxes))
            timings[str(mode)].append((time.perf_counter() - started) * 1000)
    print(f"{len(photos)} photos, {people} people found by {type(detector).__name__}")
    for name, values in timings.items():
        print(
            f"{name:>6}: median {statistics.median(values):.1f} ms, "
            f"p95 {percentile(values, 0.95):.1f} ms"
        )


if __name__ == "__main__":
    main()
