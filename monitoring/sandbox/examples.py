"""The vendors' own example answers, as printed in the seeds, that the sandbox replays for
what the on-box analyzer cannot judge (gestures, keypoints, helmets, liveness...).

The JSON files live in ``examples/<vendor>/<api>.json``; ``examples/NOTES.md`` says which
seed section each comes from and which printing faults were mended to make it JSON.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"

# Response header that marks an answer as a recorded example rather than an analysis of
# the image sent. A header, so that no strict client meets an unknown JSON key.
REPLAY_HEADER = "X-Sandbox-Replay"


@cache
def _load(vendor: str, api: str) -> Any:
    path = EXAMPLES_DIR / vendor / f"{api}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def example(vendor: str, api: str) -> Any:
    """A fresh copy of the seed's example answer for ``api`` (callers may change it)."""
    return copy.deepcopy(_load(vendor, api))
