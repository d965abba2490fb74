"""Create (or bring up to date) the demo site and its three demo users.

Safe to run on every start: existing rows are updated, never duplicated, and the demo
users' password is set again from ``--password`` or ``DEMO_PASSWORD``.
"""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from billing.demo_data import DEFAULT_SANDBOX_URL, add_demo_billing
from cameras import roles
from cameras.demo_data import add_demo_cameras
from cameras.models import Site
from monitoring.demo_data import add_demo_analyses

DEMO_SITE = "Demo site · 演示工地"
DEMO_USERS = [
    # username, role, may use the Django admin
    ("admin", roles.ADMIN, True),
    ("operator", roles.OPERATOR, False),
    ("finance", roles.FINANCE, False),
]


class Command(BaseCommand):
    help = "Create the demo site and the demo users admin, operator and finance."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=os.environ.get("DEMO_PASSWORD") or "demo-password",
            help="Password for the demo users (default: $DEMO_PASSWORD or demo-password).",
        )
        parser.add_argument(
            "--sandbox-url",
            default=os.environ.get("DEMO_SANDBOX_URL") or DEFAULT_SANDBOX_URL,
            help="The vendor sandbox the demo's Baidu and CTYun accounts call: the running "
            f"server's /sandbox (default: $DEMO_SANDBOX_URL or {DEFAULT_SANDBOX_URL}).",
        )

    @transaction.atomic
    def handle(self, *args, password, sandbox_url, **options):
        groups = roles.ensure_roles()
        site, _created = Site.objects.get_or_create(
            name=DEMO_SITE, defaults={"address": "Demo scene, rendered on this machine"}
        )
        user_model = get_user_model()
        for username, role, staff in DEMO_USERS:
            user, _created = user_model.objects.get_or_create(username=username)
            user.is_active = True
            user.is_staff = staff
            user.set_password(password)
            user.save()
            user.groups.set([groups[role]])
            site.members.add(user)
        for hook in DEMO_HOOKS:
            hook(site, self.stdout, sandbox_url=sandbox_url)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo site ready. Sign in as admin, operator or finance with password: {password}"
            )
        )


# Each part of the product adds its demo data (cameras, fences, finance, analyses and
# rules) through a hook taking the demo site, an output stream and the sandbox's URL;
# they run in this order on every start.
DEMO_HOOKS: list = [add_demo_cameras, add_demo_billing, add_demo_analyses]
