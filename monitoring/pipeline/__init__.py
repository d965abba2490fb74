"""The analysis pipeline: one stored frame in, alerts and a live overlay out.

Orchestration only: frame -> gate -> client -> ledger -> rules -> alerts -> broadcast.
What a rule decides is ``alerts.rules``'; how an alert opens and resolves is
``alerts.lifecycle``'; how a vendor is called, gated and recorded is
``billing.metered``'. This module decides which of them runs, on which frame, with
which parameters, and makes running a frame twice safe:

1. **Gate** (``FrameRun``): a frame is dropped, with the reason kept, when its camera
   is disabled, when it waited longer than its camera's sampling interval (a newer
   frame is on its way: analysing this one late would only pile up a backlog), or when
   a reached budget says no (``billing.budgets.should_analyze``). Each start of a task
   on a frame takes the next delivery number.
2. **Analyses** (``FrameAnalysis``, unique per frame and analysis): every enabled
   analysis of the camera whose own interval has passed since the last frame it
   analysed (``AnalysisState``, claimed with a row lock) is called through
   ``metered_call`` with request ids ``frame-F:analysis-A:delivery-D:...``: a
   redelivered task records the requests it really sends under its own delivery
   number, and reuses every result stored before instead of calling again. APIs that
   take several frames get a window of the camera's stored frames: CTYun's fence the
   frames since its previous call, up to 32; fall and fight the last ``window`` frames
   (16 by default, up to 64).
3. **Rules** (``RuleEvaluation``, unique per rule and frame): each enabled rule of the
   camera is evaluated on the results of this frame with its stored state, and the
   decision applied to the alert lifecycle, in one transaction with the evaluation row:
   a frame evaluated again advances no counter twice.
4. **Health and broadcast**: each call's outcome sets the analysis' health
   (``monitoring.analysis_health``: ok, failing, refused, paused, which pushes
   ``analysis.health`` when it changes); ``frame.analyzed`` with boxes, regions and what
   is wrong, and ``camera.status`` when a health changed.

An analysis that is not ``ok`` or ``waiting`` makes the camera "analysis unavailable";
rules get no data from it, so no alert opens and none resolves by itself on that camera
until data comes back. An analysis is not called before the ``retry_after`` its vendor
last asked for, nor while a vendor stop holds it (``monitoring.vendor_stops``).

Modules: ``outcome`` (what a run returns and the pipeline's limits), ``run``
(``analyze_frame``), ``gate`` (1), ``calls`` (2: claiming, calling, the ledger rows),
``params`` (each analysis' API parameters and frame window), ``results`` (stored results
read back), ``judging`` (3), ``broadcast`` (4) and ``quiet`` (alerts that went quiet,
runs whose worker died).
"""

from __future__ import annotations

from .broadcast import (
    analysis_status,
    on_camera_health,
)
from .gate import (
    drop_reason,
)
from .judging import (
    rule_results,
)
from .outcome import (
    ABANDONED_AFTER_SECONDS,
    BODY_NUM_MAX_AREAS,
    DEFAULT_SEQUENCE_WINDOW,
    DUE_TOLERANCE_OF_INTERVAL,
    DUE_TOLERANCE_OF_SAMPLING,
    MAX_ATTEMPTS_LOOKED_UP,
    PIPELINE_PARAMS,
    REASON_LENGTH,
    REDELIVERED_MAX_AGE_SECONDS,
    RESOLVE_EVERY_SECONDS,
    SEQUENCE_APIS,
    STATE_SEEN_EVERY_SECONDS,
    TRACKING_CASE_ID_MAX,
    TRACKING_MAX_GAP_SECONDS,
    AnalysisOutcome,
    FrameOutcome,
)
from .params import (
    MissingRegion,
    NotOnCameras,
    NotRunnable,
    build_params,
    crowd_regions,
    max_frames,
    request_id_prefix,
    tracking_case_id,
    tracking_gap,
)
from .quiet import (
    close_abandoned_runs,
    resolve_stale_alerts,
)
from .results import (
    result_from_dict,
)
from .run import (
    analyze_frame,
)

__all__ = [
    "ABANDONED_AFTER_SECONDS",
    "BODY_NUM_MAX_AREAS",
    "DEFAULT_SEQUENCE_WINDOW",
    "DUE_TOLERANCE_OF_INTERVAL",
    "DUE_TOLERANCE_OF_SAMPLING",
    "MAX_ATTEMPTS_LOOKED_UP",
    "PIPELINE_PARAMS",
    "REASON_LENGTH",
    "REDELIVERED_MAX_AGE_SECONDS",
    "RESOLVE_EVERY_SECONDS",
    "SEQUENCE_APIS",
    "STATE_SEEN_EVERY_SECONDS",
    "TRACKING_CASE_ID_MAX",
    "TRACKING_MAX_GAP_SECONDS",
    "AnalysisOutcome",
    "FrameOutcome",
    "MissingRegion",
    "NotOnCameras",
    "NotRunnable",
    "analysis_status",
    "analyze_frame",
    "build_params",
    "close_abandoned_runs",
    "crowd_regions",
    "drop_reason",
    "max_frames",
    "on_camera_health",
    "request_id_prefix",
    "resolve_stale_alerts",
    "result_from_dict",
    "rule_results",
    "tracking_case_id",
    "tracking_gap",
]
