"""2. The analyses: which are due on a frame, claimed with a row lock, called through
``metered_call``, and what each call cost (its ledger rows)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing import budgets
from billing.metered import metered_call
from billing.models import Outcome, UsageRecord
from billing.usage import ledger_request_id
from cameras.models import Camera, CameraAnalysis, Frame, Region
from cameras.storage import read_file
from monitoring import analysis_health, prefilter
from monitoring.analysis_models import (
    AnalysisState,
    FrameAnalysis,
    FrameAnalysisStatus,
)
from monitoring.backends import registry
from monitoring.backends.base import (
    BackendError,
    CircuitOpen,
    RefusedLocally,
)

from .outcome import (
    DUE_TOLERANCE_OF_INTERVAL,
    DUE_TOLERANCE_OF_SAMPLING,
    MAX_ATTEMPTS_LOOKED_UP,
    REASON_LENGTH,
    AnalysisOutcome,
    FrameOutcome,
)
from .params import NotRunnable, _area_region_id, _window, build_params, request_id_prefix
from .results import _parsed

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- 2. the analyses


def _run_analyses(
    frame: Frame,
    camera: Camera,
    regions: list[Region],
    analyses: Sequence[CameraAnalysis],
    delivery: int,
    now: datetime,
    outcome: FrameOutcome,
    *,
    fresh: bool,
) -> tuple[list[FrameAnalysis], bool]:
    """Every enabled analysis of the camera that runs on this frame: stored results
    reused, due analyses called. Returns their rows and whether any analysis became
    available or unavailable. A ``fresh`` run (the frame's first) has nothing stored to
    reuse."""
    if not analyses:
        return [], False
    stored = (
        {} if fresh else {row.analysis_id: row for row in FrameAnalysis.objects.filter(frame=frame)}
    )
    rows: list[FrameAnalysis] = []
    changed = False
    for analysis in analyses:
        row = stored.get(analysis.pk)
        reused = row is not None and row.status != FrameAnalysisStatus.PENDING
        if row is None:
            row = _claim(frame, camera, analysis, regions, fresh=fresh)
            if row is None:
                continue  # not due on this frame
        if row.status == FrameAnalysisStatus.PENDING:
            if prefilter.skips(frame, analysis, row, regions):
                continue  # nobody there: no paid call (monitoring.prefilter)
            row = _call(frame, camera, analysis, row, regions, delivery)
            changed |= analysis_health.record_outcome(
                analysis,
                row,
                now,
                retry_after=getattr(row, "retry_after", None),
                error_kind=getattr(row, "error_kind", ""),
                known=getattr(row, "claimed_state", None),
            )
        outcome.analyses.append(
            AnalysisOutcome(
                analysis_id=analysis.pk,
                api=analysis.api,
                status=row.status,
                result=_parsed(row) if row.result is not None else None,
                error=row.error,
                error_code=row.error_code,
                reused=reused,
            )
        )
        rows.append(row)
    return rows, changed


def _due(state: AnalysisState, analysis: CameraAnalysis, camera: Camera, frame: Frame) -> bool:
    if not analysis_health.may_call(state, frame.captured_at):
        return False  # the vendor asked to wait (``retry_after``), or a stop holds it
    if state.last_frame_at is None:
        return True
    elapsed = (frame.captured_at - state.last_frame_at).total_seconds()
    tolerance = min(
        DUE_TOLERANCE_OF_SAMPLING * camera.sample_interval,
        DUE_TOLERANCE_OF_INTERVAL * analysis.interval,
    )
    return elapsed >= analysis.interval - tolerance


def _claim(
    frame: Frame,
    camera: Camera,
    analysis: CameraAnalysis,
    regions: list[Region],
    *,
    fresh: bool,
) -> FrameAnalysis | None:
    """Claim ``analysis`` for ``frame`` when its interval has passed since the last
    frame it analysed (and the vendor's ``retry_after`` since its last failure): the row
    to fill, with the frames to send. None when not due."""
    try:
        with transaction.atomic():
            state = _locked_state(analysis)
            if not fresh:
                row = FrameAnalysis.objects.filter(frame=frame, analysis=analysis).first()
                if row is not None:
                    return row
            if not _due(state, analysis, camera, frame):
                return None
            row = FrameAnalysis.objects.create(
                frame=frame,
                analysis=analysis,
                api=analysis.api,
                window=_window(frame, analysis, state.last_frame_at),
                region_id=_area_region_id(analysis, regions),
            )
            state.last_frame_at = frame.captured_at
            state.last_frame_id = frame.pk
            state.save(update_fields=["last_frame_at", "last_frame_id"])
            row.claimed_state = state  # its health as read: spares reading it again
            return row
    except IntegrityError:
        # Claimed meanwhile by another run of this frame: share its row.
        return FrameAnalysis.objects.get(frame=frame, analysis=analysis)


def _locked_state(analysis: CameraAnalysis) -> AnalysisState:
    state = AnalysisState.objects.select_for_update().filter(analysis=analysis).first()
    if state is not None:
        return state
    try:
        with transaction.atomic():
            return AnalysisState.objects.create(analysis=analysis)
    except IntegrityError:
        return AnalysisState.objects.select_for_update().get(analysis=analysis)


def _images(row: FrameAnalysis, frame: Frame) -> list[bytes]:
    ids = list(row.window or [frame.pk])
    names = {frame.pk: frame.image.name}
    if ids != [frame.pk]:
        names.update(Frame.objects.filter(pk__in=ids).values_list("pk", "image"))
    storage = Frame._meta.get_field("image").storage
    images = []
    for frame_id in ids:
        name = frame.image.name if frame_id == frame.pk else names.get(frame_id)
        if not name:
            continue  # deleted by retention meanwhile
        try:
            images.append(read_file(name, storage))
        except OSError:
            if frame_id == frame.pk:
                raise
            logger.warning("frame %s of the window of frame %s cannot be read", frame_id, frame.pk)
    return images


def _call(
    frame: Frame,
    camera: Camera,
    analysis: CameraAnalysis,
    row: FrameAnalysis,
    regions: list[Region],
    delivery: int,
) -> FrameAnalysis:
    """Call the vendor for a claimed analysis and store what came back."""
    account = analysis.account
    prefix = request_id_prefix(frame.pk, analysis.pk, delivery)
    values: dict[str, Any] = {"delivery": delivery}
    try:
        params = build_params(analysis, camera, frame, regions)
        images = _images(row, frame)
        batches = metered_call(
            account,
            analysis.api,
            images,
            params,
            camera_id=camera.pk,
            request_id_prefix=prefix,
        )
    except NotRunnable as problem:
        values.update(
            status=FrameAnalysisStatus.FAILED, error=str(problem), error_code=problem.code
        )
    except OSError as problem:
        values.update(
            status=FrameAnalysisStatus.FAILED, error=f"frame unreadable: {problem}", error_code="io"
        )
    except RefusedLocally as refusal:
        values.update(
            status=FrameAnalysisStatus.REFUSED,
            error=str(refusal),
            error_code=str(refusal.code or "refused"),
        )
    except CircuitOpen as error:
        row.retry_after, row.error_kind = error.retry_after, error.kind
        values.update(
            status=FrameAnalysisStatus.UNAVAILABLE, error=str(error), error_code="circuit"
        )
    except BackendError as error:
        row.retry_after, row.error_kind = error.retry_after, error.kind
        code = str(error.code if error.code is not None else error.kind)
        if error.retryable:
            values.update(status=FrameAnalysisStatus.UNAVAILABLE, error=str(error), error_code=code)
        else:
            logger.error(
                "camera %s frame %s: %s of %s failed for good, vendor code %s: %s",
                camera.pk,
                frame.pk,
                analysis.api,
                account,
                code,
                error,
            )
            values.update(status=FrameAnalysisStatus.FAILED, error=str(error), error_code=code)
        values["calls"] = _ledger_calls(account, analysis.api, prefix, batches=1)
    else:
        # Scaled once, here: from now on boxes are in pixels of the stored frame, whatever
        # size of image the vendor was sent (rules, overlays and evidence read them so).
        result = batches[-1].result.scaled_to((frame.width, frame.height))
        row.parsed = result
        if registry.traits(account.vendor).in_process:
            # One attempt per request, recorded by the metered path: no need to look.
            calls = _local_calls(account, analysis.api, prefix, batches=len(batches))
        else:
            calls = _ledger_calls(account, analysis.api, prefix, batches=len(batches))
        values.update(status=FrameAnalysisStatus.DONE, result=result.as_dict(), calls=calls)
    if values["status"] != FrameAnalysisStatus.DONE:
        values["error"] = values["error"][:REASON_LENGTH]
        values["error_code"] = values["error_code"][:40]
        if values["status"] != FrameAnalysisStatus.FAILED:
            logger.warning(
                "camera %s frame %s: %s %s (%s)",
                camera.pk,
                frame.pk,
                analysis.api,
                values["status"],
                values["error"],
            )
    updated = FrameAnalysis.objects.filter(pk=row.pk, status=FrameAnalysisStatus.PENDING).update(
        updated_at=timezone.now(), **values
    )
    if not updated:  # a concurrent run of this frame stored it first: theirs stands
        return FrameAnalysis.objects.get(pk=row.pk)
    for name, value in values.items():
        setattr(row, name, value)
    return row


def _ledger_calls(account, api: str, prefix: str, *, batches: int) -> list[dict[str, Any]]:
    """The ledger rows of one call (its requests and their attempts), with their cost
    at the account's current marginal price."""
    ids = [
        ledger_request_id(prefix, api, batch, attempt)
        for batch in range(batches)
        for attempt in range(1, MAX_ATTEMPTS_LOOKED_UP + 1)
    ]
    # Every request under the call's prefix too: a call may be made of requests of
    # other APIs (the private deployment's body_attr detects people first).
    rows = list(
        UsageRecord.objects.filter(account=account)
        .filter(Q(request_id__in=ids) | Q(request_id__startswith=f"{prefix}:"))
        .order_by("request_id")
        .values_list("request_id", "outcome")
    )
    price = Decimal(0)
    billed_per_call = registry.traits(account.vendor).billed_per_call
    if billed_per_call and any(outcome == Outcome.SUCCESS for _id, outcome in rows):
        price = budgets.marginal_unit_price(account, api)
    return [
        {
            "request_id": request_id,
            "account": account.pk,
            "vendor": account.vendor,
            "api": api,
            "outcome": outcome,
            "cost": str(price if outcome == Outcome.SUCCESS else Decimal(0)),
        }
        for request_id, outcome in rows
    ]


def _local_calls(account, api: str, prefix: str, *, batches: int) -> list[dict[str, Any]]:
    return [
        {
            "request_id": ledger_request_id(prefix, api, batch, 1),
            "account": account.pk,
            "vendor": account.vendor,
            "api": api,
            "outcome": Outcome.SUCCESS.value,
            "cost": "0",
        }
        for batch in range(batches)
    ]
