"""Paid calls only when someone is there: the on-box prefilter of the pipeline.

An analysis with ``only_with_person`` set is called only when the on-box detector
(MoveNet, ``monitoring.backends.onbox``) sees a person in the analysis' region (the one
whose area the request sends, else ``params["region"]``), or anywhere in the frame when
it has none. A person is in a region when the bottom centre of the box (where the person
stands, as the fence rules read it) or the box's centre lies inside the polygon. The
detector runs at most once per frame in a process, whatever the number of analyses.

Skipped frames are counted per analysis and day (``cameras.PrefilterSkips``); the camera
page shows this month's sum as "calls saved", and ``billing.costs`` lowers the projected
calls by the share skipped over the last ``RECENT_DAYS`` days.

When the MoveNet model is not installed the prefilter never skips: the HOG fallback
misses too many people to decide that nobody is there.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from datetime import date, datetime, time, timedelta

import numpy as np
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from cameras.models import CameraAnalysis, Frame, PrefilterSkips, Region
from monitoring.analysis_models import FrameAnalysis
from monitoring.backends.images import load_rgb
from monitoring.lib.geometry import point_in_polygon

logger = logging.getLogger(__name__)

RECENT_DAYS = 7
_CACHE_SIZE = 64

# frame id -> the boxes (left, top, right, bottom) the on-box detector found on it
_seen: OrderedDict[int, list[tuple[float, float, float, float]]] = OrderedDict()
_seen_lock = threading.Lock()


def _detector():
    from monitoring.backends.onbox.detector import MoveNetDetector, best_detector

    detector = best_detector()
    return detector if isinstance(detector, MoveNetDetector) else None


def people_on(frame: Frame) -> list[tuple[float, float, float, float]] | None:
    """The person boxes the on-box detector finds on ``frame`` (cached per frame), or
    None when it cannot tell (no MoveNet model, unreadable frame)."""
    with _seen_lock:
        if frame.pk in _seen:
            _seen.move_to_end(frame.pk)
            return _seen[frame.pk]
    detector = _detector()
    if detector is None:
        return None
    try:
        storage = Frame._meta.get_field("image").storage
        with storage.open(frame.image.name, "rb") as file:
            rgb = np.asarray(load_rgb(file.read()))
        boxes = [(d.box.left, d.box.top, d.box.right, d.box.bottom) for d in detector.detect(rgb)]
    except Exception:  # the vendor call decides about an unreadable frame
        logger.warning("prefilter: frame %s not analysed on-box", frame.pk, exc_info=True)
        return None
    with _seen_lock:
        _seen[frame.pk] = boxes
        while len(_seen) > _CACHE_SIZE:
            _seen.popitem(last=False)
    return boxes


def _region(analysis: CameraAnalysis, row: FrameAnalysis, regions: list[Region]) -> Region | None:
    wanted = row.region_id or (analysis.params or {}).get("region")
    if wanted in (None, ""):
        return None
    return next((r for r in regions if str(r.pk) == str(wanted) or r.name == wanted), None)


def someone_there(frame: Frame, region: Region | None) -> bool | None:
    """Whether the on-box detector sees a person in ``region`` (or the frame); None when
    it cannot tell."""
    boxes = people_on(frame)
    if boxes is None:
        return None
    if region is None:
        return bool(boxes)
    polygon = region.points_on((frame.width, frame.height))
    return seen_in(boxes, polygon, frame.height)


def seen_in(boxes, polygon, frame_height: float) -> bool:
    """Whether a box (left, top, right, bottom) stands (bottom centre) or is centred in
    ``polygon``: both in pixels of the same frame."""
    polygon = [(float(x), float(y)) for x, y in polygon]
    for left, top, right, bottom in boxes:
        foot = ((left + right) / 2, min(bottom, frame_height - 1.0))
        centre = ((left + right) / 2, (top + bottom) / 2)
        if point_in_polygon(foot, polygon) or point_in_polygon(centre, polygon):
            return True
    return False


def skips(frame: Frame, analysis: CameraAnalysis, row: FrameAnalysis, regions) -> bool:
    """The pipeline's hook before a vendor call: True when ``analysis`` wants a person,
    the on-box detector sees none where it looks, and the claimed ``row`` was dropped and
    the skip counted (the frame still counts as the analysis' turn)."""
    if not analysis.only_with_person:
        return False
    if someone_there(frame, _region(analysis, row, list(regions))) is not False:
        return False
    with transaction.atomic():
        FrameAnalysis.objects.filter(pk=row.pk).delete()
        count(analysis, timezone.localdate(frame.captured_at))
    return True


def count(analysis: CameraAnalysis, day: date, frames: int = 1) -> None:
    counter, _created = PrefilterSkips.objects.get_or_create(analysis=analysis, day=day)
    PrefilterSkips.objects.filter(pk=counter.pk).update(frames=F("frames") + frames)


def saved_this_month(analysis: CameraAnalysis, today: date | None = None) -> int:
    """Vendor calls the prefilter saved ``analysis`` since the 1st of this month."""
    today = today or timezone.localdate()
    total = PrefilterSkips.objects.filter(
        analysis=analysis, day__gte=today.replace(day=1), day__lte=today
    ).aggregate(total=Sum("frames"))["total"]
    return int(total or 0)


def recent_skip_share(analysis: CameraAnalysis, today: date | None = None) -> float:
    """The share of the analysis' due frames skipped over the last ``RECENT_DAYS`` days
    (0 without history or with the prefilter off)."""
    if not analysis.only_with_person or analysis.pk is None:
        return 0.0
    today = today or timezone.localdate()
    since = today - timedelta(days=RECENT_DAYS - 1)
    skipped = (
        PrefilterSkips.objects.filter(analysis=analysis, day__gte=since).aggregate(
            total=Sum("frames")
        )["total"]
        or 0
    )
    start = timezone.make_aware(datetime.combine(since, time.min))
    called = FrameAnalysis.objects.filter(analysis=analysis, created_at__gte=start).count()
    due = skipped + called
    return skipped / due if due else 0.0
