"""What a pipeline run returns (``FrameOutcome``, ``AnalysisOutcome``) and the limits
it works to."""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.rules import Decision
from monitoring.backends.base import (
    AnalysisResult,
)

# Keys of CameraAnalysis.params the pipeline reads itself; the rest goes to the vendor.
PIPELINE_PARAMS = frozenset({"window"})
# APIs that send the last ``window`` frames (the most one request carries is the
# registry's ``window_frames``), by default as many as the vendor advises.
SEQUENCE_APIS = frozenset({"fall", "fight"})
DEFAULT_SEQUENCE_WINDOW = 16
BODY_NUM_MAX_AREAS = 10
# Baidu body_tracking (``人流量统计-动态版`` > ``请求参数``): case_id is an int32; frames of a
# case at most 500 ms apart (``🔗 人流量统计``: "最大时差不超过500ms，即：抽帧频率需要大于2fps").
TRACKING_CASE_ID_MAX = 2**31 - 1
TRACKING_MAX_GAP_SECONDS = 0.5
# Ledger ids looked up per request of a call: attempt numbers 1..this.
MAX_ATTEMPTS_LOOKED_UP = 8
# A frame comes every sampling interval, a little late at times: an analysis is due
# when its interval has passed, give or take this share of the camera's interval
# (and never more than a tenth of the analysis' own interval).
DUE_TOLERANCE_OF_SAMPLING = 0.5
DUE_TOLERANCE_OF_INTERVAL = 0.1
REASON_LENGTH = 500
# A task given back after its worker died comes again after the broker's visibility
# timeout; a frame older than this by then is not worth paying a vendor for.
REDELIVERED_MAX_AGE_SECONDS = 300
# A run still analysing this long after it started lost its worker (see
# ``close_abandoned_runs``): longer than a frame's analyses take with every retry of a
# slow vendor, shorter than the broker's visibility timeout.
ABANDONED_AFTER_SECONDS = 900
# Quiet alerts of a camera are looked at after its frames at most this often (the
# periodic task looks at every camera anyway).
RESOLVE_EVERY_SECONDS = 5
# A rule's state row says when its condition was last seen to within this.
STATE_SEEN_EVERY_SECONDS = 5


# ---------------------------------------------------------------- what a run returns


@dataclass
class AnalysisOutcome:
    """One analysis on one frame: its status and (when done) its normalized result."""

    analysis_id: int
    api: str
    status: str
    result: AnalysisResult | None = None
    error: str = ""
    error_code: str = ""
    reused: bool = False  # stored by an earlier run: no vendor call this time


@dataclass
class FrameOutcome:
    """What ``analyze_frame`` did with one frame."""

    frame_id: int
    status: str  # "analyzed", "dropped" or "missing"
    reason: str = ""
    delivery: int | None = None
    analyses: list[AnalysisOutcome] = field(default_factory=list)
    decisions: dict[int, Decision | None] = field(default_factory=dict)  # rule id -> decision
    alerts: list[int] = field(default_factory=list)  # alerts opened or updated
    published: bool = False  # a frame.analyzed event went out
