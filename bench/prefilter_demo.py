"""The prefilter on the demo scene: an hour of simulated frames, vendor calls made and
saved, and alerts missed compared with calling on every frame.

The ``site-gate`` demo scene is rendered every ``--every`` seconds for ``--minutes`` of
scene time, encoded as JPEG and given to the on-box detector (MoveNet, as the pipeline's
``monitoring.prefilter`` runs it). A fence analysis with ``only_with_person`` calls its
vendor only on frames where the detector sees someone standing or centred in the fence
(``prefilter.seen_in``); the frame-wide variant calls when it sees anyone at all.

The vendor is taken to be right (it sees what the scene's ground truth says), so calling
on every frame raises a fence alert for every run of at least ``--consecutive`` frames
with a worker's foot in the fence (the rule's ``consecutive_frames``). With the
prefilter, the vendor sees only the frames called: an intrusion run is missed when fewer
than ``--consecutive`` of its frames were called (a skipped frame gives the rule no
data, so it neither counts up nor resets).

Usage: .venv/bin/python bench/prefilter_demo.py [--minutes 60] [--every 5] [--side 256]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring.settings")

import django

django.setup()

import numpy as np  # noqa: E402

from cameras.sources.demo import SCENES  # noqa: E402
from monitoring.backends.images import load_rgb  # noqa: E402
from monitoring.backends.onbox import models  # noqa: E402
from monitoring.backends.onbox.detector import MoveNetDetector  # noqa: E402
from monitoring.prefilter import seen_in  # noqa: E402


def runs(flags: list[bool]) -> list[range]:
    """Index ranges of consecutive True values."""
    found, start = [], None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            found.append(range(start, index))
            start = None
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=5.0, help="Seconds between frames.")
    parser.add_argument("--side", type=int, default=256, help="MoveNet input side.")
    parser.add_argument("--consecutive", type=int, default=2)
    parser.add_argument("--scene", default="site-gate")
    args = parser.parse_args()
    path = models.movenet_path()
    if path is None:
        sys.exit("MoveNet not installed: python -m monitoring.backends.onbox.models")
    detector = MoveNetDetector(path, side=args.side)
    scene = SCENES[args.scene]
    count = int(args.minutes * 60 / args.every)
    intruder, anyone, called_fence, called_frame = [], [], [], []
    cpu = 0.0
    for index in range(count):
        t = 1.0 + index * args.every
        truth = scene.ground_truth(t)
        rgb = np.asarray(load_rgb(scene.jpeg(t)))
        started = time.process_time()
        boxes = [(d.box.left, d.box.top, d.box.right, d.box.bottom) for d in detector.detect(rgb)]
        cpu += time.process_time() - started
        intruder.append(any(person.in_fence for person in truth.persons))
        anyone.append(bool(truth.persons))
        called_fence.append(seen_in(boxes, scene.fence, rgb.shape[0]))
        called_frame.append(bool(boxes))
    alerts = [run for run in runs(intruder) if len(run) >= args.consecutive]
    print(
        f"scene {args.scene}: {count} frames ({args.minutes:g} min, one every {args.every:g} s), "
        f"MoveNet side {args.side}, {cpu / count * 1000:.0f} ms CPU per frame"
    )
    print(f"frames with a worker in the fence: {sum(intruder)}; with anyone in view: {sum(anyone)}")
    print(f"calling on every frame: {count} calls, {len(alerts)} fence alerts")
    for name, called in (("fence region", called_fence), ("whole frame", called_frame)):
        missed = sum(1 for run in alerts if sum(1 for i in run if called[i]) < args.consecutive)
        skipped_with_intruder = sum(1 for i in range(count) if intruder[i] and not called[i])
        print(
            f"prefilter on the {name}: {sum(called)} calls made, {count - sum(called)} saved "
            f"({(count - sum(called)) / count:.0%}); alerts missed {missed} of {len(alerts)}; "
            f"frames with an intruder skipped: {skipped_with_intruder}"
        )


if __name__ == "__main__":
    main()
