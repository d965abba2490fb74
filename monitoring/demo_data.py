"""Demo data of the analysis side: the on-box analyzer as a vendor account, what the two
demo cameras analyse with it (persons, and the fence of their no-entry area), and the
rules that turn it into alerts (fence intrusion on two frames in a row, a crowd of more
than three people). Each demo camera also counts people through the demo's Baidu sandbox
account (``billing.demo_data``) once a minute: a paid call the sandbox answers from the
picture itself (``body_num`` is analyzed there, never replayed; docs/sandbox.md), so the
ledger, the camera's cost and the month's draft bill grow while the demo runs.

A ``DEMO_HOOKS`` hook of the ``demo`` command, run after the cameras' own hook (it
needs their cameras and fence regions). Safe on every start: missing rows are created,
existing ones are left as an admin may have changed them.
"""

from __future__ import annotations

from alerts.models import Rule
from billing.demo_data import BAIDU_ACCOUNT
from cameras.demo_data import DEMO_CAMERAS, FENCE_NAME
from cameras.models import Camera, CameraAnalysis, Region
from monitoring.models import Vendor, VendorAccount

ACCOUNT_NAME = "On-box analyzer"
# api, seconds between two analysed frames (the demo cameras sample every 2 s)
DEMO_ANALYSES = [("fence", 2.0), ("persons", 10.0)]
# The paid analysis of each demo camera through the sandbox account: an API the sandbox
# computes from the image (X-Sandbox-Analyzer: local), at a modest rate.
LIVE_SANDBOX_ANALYSIS = ("body_num", 60.0)
FENCE_RULE = "No entry · 禁止进入"
CROWD_RULE = "Crowd · 人员聚集"
CROWD_LIMIT = 3
# The on-box detector scores upright people from about 0.4 (see monitoring.backends.local).
DEMO_MIN_CONFIDENCE = 0.4


def add_demo_analyses(site, stdout, **_options) -> None:
    """Create the on-box account, the demo cameras' analyses and their rules."""
    account, created = VendorAccount.objects.get_or_create(
        name=ACCOUNT_NAME, defaults={"vendor": Vendor.LOCAL, "site": site}
    )
    if account.vendor != Vendor.LOCAL:
        stdout.write(
            f"Vendor account {ACCOUNT_NAME!r} exists for {account.vendor}, not the on-box "
            "analyzer: demo analyses not added\n"
        )
        return
    stdout.write(f"Vendor account {'added' if created else 'ready'}: {ACCOUNT_NAME}\n")
    sandbox = VendorAccount.objects.filter(name=BAIDU_ACCOUNT, vendor=Vendor.BAIDU).first()
    for camera_name, _scene, _interval in DEMO_CAMERAS:
        camera = Camera.objects.filter(site=site, name=camera_name).first()
        if camera is None:
            stdout.write(f"Demo camera {camera_name!r} missing: no analyses added for it\n")
            continue
        for api, interval in DEMO_ANALYSES:
            CameraAnalysis.objects.get_or_create(
                camera=camera, api=api, account=account, defaults={"interval": interval}
            )
        if sandbox is not None:
            api, interval = LIVE_SANDBOX_ANALYSIS
            CameraAnalysis.objects.get_or_create(
                camera=camera, api=api, account=sandbox, defaults={"interval": interval}
            )
        fence = Region.objects.filter(camera=camera, name=FENCE_NAME).first()
        if fence is not None:
            Rule.objects.get_or_create(
                camera=camera,
                name=FENCE_RULE,
                defaults={
                    "region": fence,
                    "kind": "fence_intrusion",
                    "consecutive_frames": 2,
                    "min_confidence": DEMO_MIN_CONFIDENCE,
                    "severity": "critical",
                    "cooldown_seconds": 60,
                    "clear_after_seconds": 30,
                },
            )
        Rule.objects.get_or_create(
            camera=camera,
            name=CROWD_RULE,
            defaults={
                "kind": "crowd",
                "params": {"limit": CROWD_LIMIT},
                "consecutive_frames": 2,
                "min_confidence": DEMO_MIN_CONFIDENCE,
                "severity": "warning",
                "cooldown_seconds": 120,
                "clear_after_seconds": 30,
            },
        )
        stdout.write(
            f"Demo analyses ready on {camera_name}: "
            + ", ".join(f"{api} every {interval:g} s" for api, interval in DEMO_ANALYSES)
            + (f"; {LIVE_SANDBOX_ANALYSIS[0]} through {BAIDU_ACCOUNT}" if sandbox else "")
            + "; rules: fence intrusion, crowd\n"
        )
