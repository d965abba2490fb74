"""Privacy masks: people blurred or filled in what leaves the server (the camera frame
API, an alert's evidence frame and evidence picture), never in the stored frame the
analyses read; the unmasked evidence only with the permission, each view recorded."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw

from alerts.lifecycle import apply_decision
from alerts.models import AlertChange, ChangeAction
from cameras import roles
from cameras.models import CameraAnalysis, Frame, PrivacyMask
from monitoring import prefilter, privacy
from monitoring.analysis_models import FrameAnalysis, FrameAnalysisStatus
from monitoring.models import VendorAccount
from monitoring.privacy import PersonAreas, areas_from_results, mask_picture
from tests.cameras.test_camera_api import api_for

from .conftest import CALLS, HEIGHT, INTRUDER, WIDTH, at, decision, results
from .test_alert_pages import client_for

pytestmark = pytest.mark.django_db

# Inside the intruder's box (200, 120, 80x200), and a spot far from it, from the
# region (scaled to 100..500 x 100..300), the caption (top left) and the passer-by.
INSIDE = (240, 220)
OUTSIDE = (600, 340)


def striped(width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """Vertical stripes, 8 pixels wide: blurring changes them, unlike a flat colour."""
    picture = Image.new("RGB", (width, height), (230, 200, 40))
    draw = ImageDraw.Draw(picture)
    for x in range(0, width, 16):
        draw.rectangle((x, 0, x + 7, height), fill=(20, 40, 160))
    return picture


def as_jpeg(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=95)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def distance(a, b) -> int:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def patch(picture: Image.Image, spot, half: int = 6) -> np.ndarray:
    x, y = spot
    return np.asarray(picture.crop((x - half, y - half, x + half, y + half)), dtype=float)


def patch_mean(picture: Image.Image, spot) -> tuple[float, ...]:
    return tuple(patch(picture, spot).mean(axis=(0, 1)))


def stripes_seen(picture: Image.Image, spot) -> bool:
    red = patch(picture, spot)[:, :, 0]
    return float(red.max() - red.min()) > 100


def change(a: Image.Image, b: Image.Image, spot) -> float:
    """Mean per-pixel difference of two pictures around ``spot`` (largest channel)."""
    return float(np.abs(patch(a, spot) - patch(b, spot)).max(axis=2).mean())


@pytest.fixture(autouse=True)
def _no_onbox_cache():
    prefilter._seen.clear()
    yield
    prefilter._seen.clear()


@pytest.fixture
def stored_frame(camera, media):
    data = as_jpeg(striped())
    frame = Frame(camera=camera, captured_at=at(0), width=WIDTH, height=HEIGHT, size=len(data))
    frame.image.save("frame.jpg", ContentFile(data), save=False)
    frame.save()
    return frame


def answered(frame: Frame, result: dict) -> FrameAnalysis:
    """The frame as the pipeline leaves it: one analysis done, its result stored."""
    account, _created = VendorAccount.objects.get_or_create(
        name="On-box", defaults={"vendor": "local"}
    )
    analysis, _created = CameraAnalysis.objects.get_or_create(
        camera=frame.camera, api=result["api"], account=account
    )
    return FrameAnalysis.objects.create(
        frame=frame,
        analysis=analysis,
        api=result["api"],
        status=FrameAnalysisStatus.DONE,
        result=result,
        window=[frame.pk],
    )


def masking(camera, mode: str = PrivacyMask.FILL):
    camera.privacy_mask = mode
    camera.save(update_fields=["privacy_mask"])


def stored_bytes(frame: Frame) -> bytes:
    with frame.image.storage.open(frame.image.name, "rb") as handle:
        return handle.read()


# ---------------------------------------------------------------- pixels


def test_fill_covers_the_grown_box_and_leaves_every_other_pixel_as_it_was():
    picture = striped()
    box = (INTRUDER.left, INTRUDER.top, INTRUDER.left + INTRUDER.width, INTRUDER.top + 200)
    masked = mask_picture(picture, PrivacyMask.FILL, PersonAreas(boxes=[box]))
    left, top, right, bottom = privacy.grown(box, picture.size)
    for y in range(0, HEIGHT, 7):
        for x in range(0, WIDTH, 7):
            inside = left <= x <= right and top <= y <= bottom
            if inside:
                assert masked.getpixel((x, y)) == privacy.FILL_COLOUR
            elif not (left - 1 <= x <= right + 1 and top - 1 <= y <= bottom + 1):
                assert masked.getpixel((x, y)) == picture.getpixel((x, y))


def test_blur_changes_the_stripes_inside_the_box_only():
    picture = striped()
    box = (200.0, 120.0, 280.0, 320.0)
    masked = mask_picture(picture, PrivacyMask.BLUR, PersonAreas(boxes=[box]))
    inside = [(x, 220) for x in range(210, 270)]
    changed = sum(distance(masked.getpixel(p), picture.getpixel(p)) > 40 for p in inside)
    assert changed > len(inside) / 2
    # no stripe left readable inside: the spread of the blurred pixels is small
    reds = [masked.getpixel(p)[0] for p in inside]
    assert max(reds) - min(reds) < 60
    for spot in [(10, 10), (600, 340), (400, 50), (100, 300)]:
        assert masked.getpixel(spot) == picture.getpixel(spot)


def test_off_leaves_the_jpeg_bytes_untouched():
    data = as_jpeg(striped())
    assert privacy.mask_jpeg(data, PrivacyMask.OFF, PersonAreas(known=False)) == data


def test_body_segs_label_map_masks_its_person_pixels_outside_any_box():
    # A label map at half the frame's size, as the vendor may answer for a smaller
    # image: person pixels are 1 (人像分割 > 返回参数: labelmap), scaled nearest.
    labels = Image.new("L", (WIDTH // 2, HEIGHT // 2), 0)
    ImageDraw.Draw(labels).rectangle((250, 20, 300, 160), fill=1)
    out = io.BytesIO()
    labels.save(out, format="PNG")
    result = {
        "api": "body_seg",
        "frame_width": WIDTH,
        "frame_height": HEIGHT,
        "images": {"labelmap": base64.b64encode(out.getvalue()).decode()},
        "persons": [],
    }
    areas = areas_from_results([result], (WIDTH, HEIGHT))
    assert len(areas.label_maps) == 1 and areas.boxes == []
    masked = mask_picture(striped(), PrivacyMask.FILL, areas)
    assert masked.getpixel((550, 200)) == privacy.FILL_COLOUR  # label (275, 100) x2
    assert masked.getpixel((300, 200)) == striped().getpixel((300, 200))


def test_a_label_map_that_does_not_decode_falls_back_to_the_boxes():
    # The seed's own example answer carries "iVBORwOKGg", a cut PNG.
    result = {
        "api": "body_seg",
        "frame_width": WIDTH // 2,
        "frame_height": HEIGHT // 2,
        "images": {"labelmap": "iVBORwOKGg"},
        "persons": [{"box": {"left": 100, "top": 60, "width": 40, "height": 100}, "score": 0.9}],
    }
    areas = areas_from_results([result], (WIDTH, HEIGHT))
    assert areas.label_maps == []
    assert areas.boxes == [(200.0, 120.0, 280.0, 320.0)]


# ---------------------------------------------------------------- the camera frame API


def test_the_frame_api_serves_people_filled_and_the_stored_frame_stays_as_taken(
    make_user, site_a, camera, stored_frame
):
    answered(stored_frame, results()[0].as_dict())
    masking(camera)
    original = decoded(stored_bytes(stored_frame))
    client = api_for(make_user(roles.OPERATOR, site_a))

    response = client.get(f"/api/cameras/{camera.pk}/frame/")

    assert response.status_code == 200
    served = decoded(response.content)
    assert distance(patch_mean(served, INSIDE), privacy.FILL_COLOUR) <= 4
    assert change(served, original, INSIDE) > 40
    assert change(served, original, OUTSIDE) <= 8
    # the analyses still read the frame as taken
    assert decoded(stored_bytes(stored_frame)).tobytes() == original.tobytes()


def test_with_the_mask_off_the_frame_api_serves_the_stored_bytes(
    make_user, site_a, camera, stored_frame
):
    answered(stored_frame, results()[0].as_dict())
    client = api_for(make_user(roles.OPERATOR, site_a))
    response = client.get(f"/api/cameras/{camera.pk}/frame/?frame={stored_frame.pk}")
    assert response.content == stored_bytes(stored_frame)


def test_when_nothing_can_tell_where_people_are_the_whole_frame_is_masked(
    make_user, site_a, camera, stored_frame, monkeypatch
):
    monkeypatch.setattr(prefilter, "_detector", lambda: None)  # no on-box model
    masking(camera)
    client = api_for(make_user(roles.OPERATOR, site_a))
    served = decoded(client.get(f"/api/cameras/{camera.pk}/frame/").content)
    for spot in (INSIDE, OUTSIDE, (20, 20)):
        assert distance(patch_mean(served, spot), privacy.FILL_COLOUR) <= 4


def test_the_camera_api_sets_the_mask_and_refuses_an_unknown_one(make_user, site_a, camera):
    client = api_for(make_user(roles.ADMIN, site_a))
    answer = client.patch(f"/api/cameras/{camera.pk}/", {"privacy_mask": "blur"}, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["privacy_mask"] == "blur"
    wrong = client.patch(
        f"/api/cameras/{camera.pk}/",
        {"privacy_mask": "pixelate"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert wrong.status_code == 400
    assert "pixelate" in wrong.json()["privacy_mask"][0]


# ---------------------------------------------------------------- evidence


@pytest.fixture
def masked_alert(camera, rule, stored_frame):
    masking(camera)
    answered(stored_frame, results()[0].as_dict())
    return apply_decision(
        rule,
        camera,
        rule.region,
        decision(),
        frame=stored_frame,
        results=results(),
        vendor_calls=CALLS,
        now=at(0),
    )


def test_the_evidence_picture_is_drawn_on_the_masked_frame(masked_alert, stored_frame):
    with masked_alert.evidence.open("rb") as handle:
        evidence = decoded(handle.read())
    original = decoded(stored_bytes(stored_frame))
    assert stripes_seen(original, INSIDE) and not stripes_seen(evidence, INSIDE)
    # drawn and saved as JPEG again by the overlay: close, not equal
    assert stripes_seen(evidence, OUTSIDE) and change(evidence, original, OUTSIDE) <= 16


def test_the_alerts_evidence_frame_page_is_masked(make_user, site_a, masked_alert):
    client = client_for(make_user(roles.OPERATOR, site_a))
    response = client.get(f"/alerts/{masked_alert.pk}/frame/")
    assert response.status_code == 200
    served = decoded(response.content)
    assert distance(patch_mean(served, INSIDE), privacy.FILL_COLOUR) <= 4


def test_without_the_permission_the_unmasked_evidence_is_refused_and_nothing_recorded(
    make_user, site_a, masked_alert
):
    operator = make_user(roles.OPERATOR, site_a)
    assert (
        api_for(operator).get(f"/api/alerts/{masked_alert.pk}/unmasked-evidence/").status_code
        == 403
    )
    assert (
        client_for(operator).get(f"/alerts/{masked_alert.pk}/unmasked-evidence/").status_code == 403
    )
    page = client_for(operator).get(f"/alerts/{masked_alert.pk}/")
    assert b"unmasked-evidence" not in page.content
    assert not AlertChange.objects.filter(action=ChangeAction.VIEWED_UNMASKED).exists()


def test_an_admin_sees_the_unmasked_evidence_and_each_view_is_in_the_history(
    make_user, site_a, masked_alert, stored_frame
):
    admin = make_user(roles.ADMIN, site_a)
    page = client_for(admin).get(f"/alerts/{masked_alert.pk}/")
    assert f"/alerts/{masked_alert.pk}/unmasked-evidence/".encode() in page.content

    first = api_for(admin).get(f"/api/alerts/{masked_alert.pk}/unmasked-evidence/")
    second = client_for(admin).get(f"/alerts/{masked_alert.pk}/unmasked-evidence/")

    assert first.status_code == second.status_code == 200
    unmasked = decoded(first.content)
    assert stripes_seen(unmasked, INSIDE)
    views = AlertChange.objects.filter(alert=masked_alert, action=ChangeAction.VIEWED_UNMASKED)
    assert [(view.user, view.data["frame"]) for view in views] == [(admin, stored_frame.pk)] * 2
    history = api_for(admin).get(f"/api/alerts/{masked_alert.pk}/").json()["history"]
    assert [entry["action"] for entry in history].count("viewed_unmasked") == 2
    page = client_for(admin).get(f"/alerts/{masked_alert.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "查看了未遮挡的证据" in page.content.decode()


def test_body_segs_cut_outs_of_people_are_left_out_of_a_masked_alerts_answers(
    make_user, site_a, masked_alert
):
    masked_alert.raw = [{"foreground": "aGVsbG8=", "person_num": 1}, {"image": "aGVsbG8="}]
    masked_alert.normalized = [{"api": "body_seg", "images": {"foreground": "aGVsbG8="}}]
    masked_alert.save(update_fields=["raw", "normalized"])
    client = api_for(make_user(roles.OPERATOR, site_a))
    detail = client.get(f"/api/alerts/{masked_alert.pk}/").json()
    assert detail["raw"] == [{"foreground": "", "person_num": 1}, {"image": ""}]
    assert detail["normalized"][0]["images"] == {"foreground": ""}
    page = client_for(make_user(roles.OPERATOR, site_a)).get(f"/alerts/{masked_alert.pk}/")
    assert b"aGVsbG8=" not in page.content
