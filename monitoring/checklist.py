"""The first-run checklist an admin sees on the home page: the steps from the demo to a
site of one's own, each ticked off from the data (never by a click), the whole list
hidden once every step is done.

Demo rows do not count: the demo cameras (``SourceKind.DEMO``), the demo's vendor
accounts (named in ``monitoring.demo_data`` and ``billing.demo_data``)
and the demo users.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from billing.demo_data import BAIDU_ACCOUNT, CTYUN_ACCOUNT
from cameras import roles
from cameras.models import Camera, CameraAnalysis, Region, SourceKind
from monitoring.demo_data import ACCOUNT_NAME as ON_BOX_ACCOUNT
from monitoring.management.commands.demo import DEMO_USERS
from monitoring.models import VendorAccount

DEMO_ACCOUNT_NAMES = (ON_BOX_ACCOUNT, BAIDU_ACCOUNT, CTYUN_ACCOUNT)
DEMO_USERNAMES = tuple(username for username, _role, _staff in DEMO_USERS)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    hint: str
    url: str
    done: bool


def steps_for(user) -> list[Step]:
    """The checklist of ``user``'s sites, in the order to do it."""
    sites = roles.sites_for(user)
    real_cameras = Camera.objects.filter(site__in=sites).exclude(source_kind=SourceKind.DEMO)
    first_camera = real_cameras.order_by("pk").first()
    members = (
        get_user_model()
        .objects.filter(sites__in=sites)
        .exclude(pk=user.pk)
        .exclude(username__in=DEMO_USERNAMES)
    )
    return [
        Step(
            "camera",
            _("Add a real camera"),
            _("An HTTP snapshot, RTSP stream or file source of your site."),
            reverse("cameras:new"),
            real_cameras.exists(),
        ),
        Step(
            "region",
            _("Draw a region"),
            _("A fence or zone on the camera's picture, in the fence editor."),
            reverse("cameras:regions", args=[first_camera.pk])
            if first_camera
            else reverse("cameras:list"),
            Region.objects.filter(camera__in=real_cameras).exists(),
        ),
        Step(
            "analysis",
            _("Add an analysis and read its projected cost"),
            _("Which API of which vendor account, how often; the form shows the monthly cost."),
            reverse("cameras:analysis_new", args=[first_camera.pk])
            if first_camera
            else reverse("cameras:list"),
            CameraAnalysis.objects.filter(camera__in=real_cameras).exists(),
        ),
        Step(
            "account",
            _("Add a vendor account"),
            _("Your Baidu or CTYun keys (the demo's sandbox accounts do not count)."),
            reverse("vendor_account_new"),
            VendorAccount.objects.exclude(name__in=DEMO_ACCOUNT_NAMES).exists(),
        ),
        Step(
            "users",
            _("Invite users"),
            _("Operators and finance of your site, each with their role."),
            reverse("admin:auth_user_add"),
            members.exists(),
        ),
    ]


def pending_steps(user) -> list[Step] | None:
    """The checklist while a step is left, for a user who configures sites; else None."""
    if not user.has_perm(roles.CONFIGURE):
        return None
    steps = steps_for(user)
    return steps if not all(step.done for step in steps) else None
