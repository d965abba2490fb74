"""Create (or bring up to date) the demo site and its three demo users.

Safe to run on every start: existing rows are updated, never duplicated, and the demo
users' password is set again from ``--password`` or ``DEMO_PASSWORD``.
"""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

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

    @transaction.atomic
    def handle(self, *args, password, **options):
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
            hook(site, self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo site ready. Sign in as admin, operator or finance with password: {password}"
            )
        )


# Each part of the product adds its demo data (cameras, fences, rules) through a hook
# taking the demo site and an output stream; they run in this order on every start.
DEMO_HOOKS: list = [add_demo_cameras, add_demo_analyses]
